output "acr_name" {
  description = "ACR_NAME for the GitHub workflows: the registry `az acr login --name` takes."
  value       = azurerm_container_registry.main.name
}

output "acr_login_server" {
  description = "Registry host; each app's repository in pipeline.aks.toml is <this>/<app> (paktech-app, paktech-gateway)."
  value       = azurerm_container_registry.main.login_server
}

output "aks_name" {
  description = "Cluster name, for `az aks get-credentials`."
  value       = azurerm_kubernetes_cluster.main.name
}

output "aks_oidc_issuer_url" {
  description = "OIDC issuer of the cluster, for workload identity federation."
  value       = azurerm_kubernetes_cluster.main.oidc_issuer_url
}

output "deploy_client_ids" {
  description = "Each environment's deploy identity; github.tf sets it as that GitHub environment's AZURE_CLIENT_ID."
  value       = { for env, identity in local.deploy_environments : env => azuread_application.deploy[identity].client_id }
}

output "plan_client_id" {
  description = "AZURE_PLAN_CLIENT_ID for terraform.yml's plan and drift jobs (read-only)."
  value       = azuread_application.plan.client_id
}

output "resource_group" {
  description = "The resource group holding everything."
  value       = azurerm_resource_group.main.name
}
