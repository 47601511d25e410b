# GitHub Actions signs in to Azure with OIDC: no stored client secret anywhere.
# A job's token carries one subject, and Entra accepts it only where a federated credential names
# it exactly (https://docs.github.com/en/actions/reference/security/oidc, "Example subject
# claims"): a job with an `environment` presents repo:<owner>/<repo>:environment:<name>, a
# pull_request job without one repo:<owner>/<repo>:pull_request, and a push or schedule on main
# without one repo:<owner>/<repo>:ref:refs/heads/main. tests/tests/azure_access.rs checks that
# every subject a workflow job presents, with the client id it uses, is listed below.

locals {
  # One deploy identity per environment, so that what dev's job can do (every push to main,
  # no reviewer) cannot reach staging or prod: each is granted only its own namespace
  # (kube_access.tf). The workflows name AZURE_CLIENT_ID; each GitHub environment holds its
  # own value (github.tf), so the platform, not the workflow text, picks the identity.
  deploy_identities = ["dev", "staging", "prod"]
  # The GitHub environment each deploy identity federates, and which identity it is:
  # prod's automatic rollback (reviewer-free, main only) acts on prod, as prod's identity.
  deploy_environments = {
    dev           = "dev"
    staging       = "staging"
    prod          = "prod"
    prod-rollback = "prod"
  }
  # The read-only Terraform identity (AZURE_PLAN_CLIENT_ID): terraform.yml's plan on pull
  # requests and its nightly drift check on main.
  plan_subjects = ["pull_request", "ref:refs/heads/main"]
}

resource "azuread_application" "deploy" {
  for_each     = toset(local.deploy_identities)
  display_name = "${var.name}-github-deploy-${each.key}"
}

resource "azuread_service_principal" "deploy" {
  for_each  = toset(local.deploy_identities)
  client_id = azuread_application.deploy[each.key].client_id
}

# Jobs running in a deployment environment (ci.yml's main job, promote.yml's jobs).
resource "azuread_application_federated_identity_credential" "deploy" {
  for_each       = local.deploy_environments
  application_id = azuread_application.deploy[each.value].id
  display_name   = "github-env-${each.key}"
  audiences      = ["api://AzureADTokenExchange"]
  issuer         = "https://token.actions.githubusercontent.com"
  subject        = "repo:${var.github_repository}:environment:${each.key}"
}

# Only dev's job builds and pushes images; staging and prod read digests and signatures.
resource "azurerm_role_assignment" "deploy_acr_push" {
  scope                = azurerm_container_registry.main.id
  role_definition_name = "AcrPush"
  principal_id         = azuread_service_principal.deploy["dev"].object_id
}

resource "azurerm_role_assignment" "deploy_acr_pull" {
  for_each             = toset(["staging", "prod"])
  scope                = azurerm_container_registry.main.id
  role_definition_name = "AcrPull"
  principal_id         = azuread_service_principal.deploy[each.key].object_id
}

# `az aks get-credentials` (listClusterUserCredential); what each identity may do inside the
# cluster is granted in kube_access.tf, in its own namespace only.
resource "azurerm_role_assignment" "deploy_cluster_user" {
  for_each             = toset(local.deploy_identities)
  scope                = azurerm_kubernetes_cluster.main.id
  role_definition_name = "Azure Kubernetes Service Cluster User Role"
  principal_id         = azuread_service_principal.deploy[each.key].object_id
}

# terraform plan and drift: reads everything, changes nothing. Plans run with -lock=false
# (terraform.yml), since taking the state's lease is a write. Reading the state and the
# directory (Storage Blob Data Reader on the state container, Microsoft Graph
# Application.Read.All) is granted once by hand, like the apply identity itself
# (docs/operations.md, "Run on AKS"); the backend reads the state with this Entra identity
# (use_azuread_auth in versions.tf), never with the account's keys.
resource "azuread_application" "plan" {
  display_name = "${var.name}-github-terraform-plan"
}

resource "azuread_service_principal" "plan" {
  client_id = azuread_application.plan.client_id
}

resource "azuread_application_federated_identity_credential" "plan" {
  for_each       = toset(local.plan_subjects)
  application_id = azuread_application.plan.id
  display_name   = "github-plan-${replace(replace(each.key, ":", "-"), "/", "-")}"
  audiences      = ["api://AzureADTokenExchange"]
  issuer         = "https://token.actions.githubusercontent.com"
  subject        = "repo:${var.github_repository}:${each.key}"
}

resource "azurerm_role_assignment" "plan_reader" {
  scope                = azurerm_resource_group.main.id
  role_definition_name = "Reader"
  principal_id         = azuread_service_principal.plan.object_id
}

# Refreshing the cluster reads its user kubeconfig (listClusterUserCredential), which Reader
# does not include.
resource "azurerm_role_assignment" "plan_cluster_user" {
  scope                = azurerm_kubernetes_cluster.main.id
  role_definition_name = "Azure Kubernetes Service Cluster User Role"
  principal_id         = azuread_service_principal.plan.object_id
}
