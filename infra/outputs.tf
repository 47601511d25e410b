output "acr_login_server" {
  description = "Registry host; the image repository in pipeline.toml is <this>/paktech-app."
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

output "ci_client_id" {
  description = "AZURE_CLIENT_ID for the GitHub workflows (deploy identity)."
  value       = azuread_application.ci.client_id
}

output "plan_client_id" {
  description = "AZURE_PLAN_CLIENT_ID for terraform.yml's plan and drift jobs (read-only)."
  value       = azuread_application.plan.client_id
}

output "resource_group" {
  description = "The resource group holding everything."
  value       = azurerm_resource_group.main.name
}
