resource "azurerm_kubernetes_cluster" "main" {
  #checkov:skip=CKV_AZURE_115:A private cluster needs a self-hosted runner in the VNet; the API server is limited to authorized IP ranges instead
  #checkov:skip=CKV_AZURE_6:Authorized ranges are set per deployment (api_server_authorized_ip_ranges); GitHub-hosted runners have no fixed addresses to default to
  #checkov:skip=CKV_AZURE_117:Customer-managed disk encryption keys need a Key Vault design of their own; platform-managed keys encrypt the disks
  #checkov:skip=CKV_AZURE_226:Ephemeral OS disks depend on the VM size's cache; the default size's cache is too small
  name                              = "${var.name}-aks"
  location                          = azurerm_resource_group.main.location
  resource_group_name               = azurerm_resource_group.main.name
  dns_prefix                        = var.name
  kubernetes_version                = var.kubernetes_version
  sku_tier                          = "Standard"
  automatic_upgrade_channel         = "patch"
  oidc_issuer_enabled               = true
  workload_identity_enabled         = true
  local_account_disabled            = true
  role_based_access_control_enabled = true
  azure_policy_enabled              = true

  api_server_access_profile {
    authorized_ip_ranges = var.api_server_authorized_ip_ranges
  }

  azure_active_directory_role_based_access_control {
    azure_rbac_enabled = true
    tenant_id          = data.azurerm_client_config.current.tenant_id
  }

  default_node_pool {
    name                         = "system"
    vm_size                      = var.node_vm_size
    zones                        = ["1", "2", "3"]
    auto_scaling_enabled         = true
    min_count                    = 3
    max_count                    = 5
    max_pods                     = 50
    only_critical_addons_enabled = true
    host_encryption_enabled      = true
    os_disk_type                 = "Managed"
    upgrade_settings {
      max_surge = "33%"
    }
  }

  identity {
    type = "SystemAssigned"
  }

  network_profile {
    network_plugin = "azure"
    network_policy = "azure"
  }

  oms_agent {
    log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id
  }

  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }
}

resource "azurerm_kubernetes_cluster_node_pool" "apps" {
  #checkov:skip=CKV_AZURE_226:Ephemeral OS disks depend on the VM size's cache; the default size's cache is too small
  name                    = "apps"
  kubernetes_cluster_id   = azurerm_kubernetes_cluster.main.id
  vm_size                 = var.node_vm_size
  zones                   = ["1", "2", "3"]
  auto_scaling_enabled    = true
  min_count               = var.node_min_count
  max_count               = var.node_max_count
  max_pods                = 50
  host_encryption_enabled = true
  os_disk_type            = "Managed"
  upgrade_settings {
    max_surge = "33%"
  }
}

# The kubelet pulls images from the registry with its own identity: no pull secret.
resource "azurerm_role_assignment" "kubelet_acr_pull" {
  scope                            = azurerm_container_registry.main.id
  role_definition_name             = "AcrPull"
  principal_id                     = azurerm_kubernetes_cluster.main.kubelet_identity[0].object_id
  skip_service_principal_aad_check = true
}
