# GitHub Actions signs in to Azure with OIDC: no stored client secret anywhere.
resource "azuread_application" "ci" {
  display_name = "${var.name}-github-ci"
}

resource "azuread_service_principal" "ci" {
  client_id = azuread_application.ci.client_id
}

# Pushes to main (ci.yml, terraform.yml).
resource "azuread_application_federated_identity_credential" "main" {
  application_id = azuread_application.ci.id
  display_name   = "github-main"
  audiences      = ["api://AzureADTokenExchange"]
  issuer         = "https://token.actions.githubusercontent.com"
  subject        = "repo:${var.github_repository}:ref:refs/heads/main"
}

# Jobs running in a protected environment (promote.yml's staging and prod, terraform's infra).
resource "azuread_application_federated_identity_credential" "environment" {
  for_each       = toset(["dev", "staging", "prod", "infra"])
  application_id = azuread_application.ci.id
  display_name   = "github-env-${each.key}"
  audiences      = ["api://AzureADTokenExchange"]
  issuer         = "https://token.actions.githubusercontent.com"
  subject        = "repo:${var.github_repository}:environment:${each.key}"
}

resource "azurerm_role_assignment" "ci_acr_push" {
  scope                = azurerm_container_registry.main.id
  role_definition_name = "AcrPush"
  principal_id         = azuread_service_principal.ci.object_id
}

resource "azurerm_role_assignment" "ci_cluster_user" {
  scope                = azurerm_kubernetes_cluster.main.id
  role_definition_name = "Azure Kubernetes Service Cluster User Role"
  principal_id         = azuread_service_principal.ci.object_id
}
