# Images are pushed by CI (AcrPush through OIDC) and pulled by the cluster's kubelet (AcrPull).
resource "azurerm_container_registry" "main" {
  #checkov:skip=CKV_AZURE_166:Quarantine needs a scanning pipeline outside Azure to release images; images are scanned in CI before they are promoted
  #checkov:skip=CKV_AZURE_233:Zone redundancy is a Premium feature decision per region; enable it where the region supports it
  #checkov:skip=CKV_AZURE_237:Dedicated data endpoints apply with private networking, which this project does not configure
  #checkov:skip=CKV_AZURE_165:The cluster runs in one region; a geo-replica belongs with a second region
  #checkov:skip=CKV_AZURE_164:Content Trust (Docker Content Trust, Notary v1) is deprecated: Azure refuses trustPolicy status enabled (ContentTrustUnsupported) and removes it on 31 March 2028 (https://aka.ms/acr/dctdeprecation, `az acr config content-trust` reference). Images are signed with cosign in CI and the signature is verified before prod takes a digest (pipeline.toml require_signature)
  #checkov:skip=CKV_AZURE_167:No retention of untagged manifests: the signatures, SBOM and provenance attestations prod verifies are untagged manifests (OCI referrers) and images are pulled by digest, which Microsoft says a retention policy must not be set for (learn.microsoft.com/azure/container-registry/container-registry-retention-policy)
  #checkov:skip=CKV_AZURE_139:Public access stays on so hosted CI runners can push; authentication is Entra ID only (admin user off)
  name                          = "${var.name}acr"
  resource_group_name           = azurerm_resource_group.main.name
  location                      = azurerm_resource_group.main.location
  sku                           = "Premium"
  admin_enabled                 = false
  anonymous_pull_enabled        = false
  public_network_access_enabled = true

  # No retention_policy_in_days: unset, the provider disables the policy (terraform-provider-azurerm
  # container_registry_resource.go: enabled only for a value above 0), so the referrers stay.
  # No trust_policy_enabled: Azure refuses to enable Content Trust now (see the skip above).
}
