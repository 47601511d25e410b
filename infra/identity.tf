# GitHub Actions signs in to Azure with OIDC: no stored client secret anywhere.
# A job's token carries one subject, and Entra accepts it only where a federated credential names
# it exactly (https://docs.github.com/en/actions/reference/security/oidc, "Example subject
# claims"): a job with an `environment` presents repo:<owner>/<repo>:environment:<name>, a
# pull_request job without one repo:<owner>/<repo>:pull_request, and a push or schedule on main
# without one repo:<owner>/<repo>:ref:refs/heads/main. tests/tests/azure_access.rs checks that
# every subject a workflow job presents, with the client id it uses, is listed below.

locals {
  # The deploy identity (AZURE_CLIENT_ID): ci.yml's main job (dev), promote.yml's staging and
  # prod jobs, and the automatic rollback in its own reviewer-free environment.
  ci_environments = ["dev", "staging", "prod", "prod-rollback"]
  # The read-only Terraform identity (AZURE_PLAN_CLIENT_ID): terraform.yml's plan on pull
  # requests and its nightly drift check on main.
  plan_subjects = ["pull_request", "ref:refs/heads/main"]
}

resource "azuread_application" "ci" {
  display_name = "${var.name}-github-ci"
}

resource "azuread_service_principal" "ci" {
  client_id = azuread_application.ci.client_id
}

# Jobs running in a deployment environment (ci.yml's main job, promote.yml's jobs).
resource "azuread_application_federated_identity_credential" "environment" {
  for_each       = toset(local.ci_environments)
  application_id = azuread_application.ci.id
  display_name   = "github-env-${each.key}"
  audiences      = ["api://AzureADTokenExchange"]
  issuer         = "https://token.actions.githubusercontent.com"
  subject        = "repo:${var.github_repository}:environment:${each.key}"
}

# Push images and read their digests.
resource "azurerm_role_assignment" "ci_acr_push" {
  scope                = azurerm_container_registry.main.id
  role_definition_name = "AcrPush"
  principal_id         = azuread_service_principal.ci.object_id
}

# `az aks get-credentials` (listClusterUserCredential); what the identity may do inside the
# cluster is granted in kube_access.tf.
resource "azurerm_role_assignment" "ci_cluster_user" {
  scope                = azurerm_kubernetes_cluster.main.id
  role_definition_name = "Azure Kubernetes Service Cluster User Role"
  principal_id         = azuread_service_principal.ci.object_id
}

# terraform plan and drift: reads everything, changes nothing. Plans run with -lock=false
# (terraform.yml), since taking the state's lease is a write. Reading the state and the
# directory (Storage Blob Data Reader on the state container, Microsoft Graph
# Application.Read.All) is granted once by hand, like the apply identity itself
# (docs/operations.md, "Run on AKS").
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
