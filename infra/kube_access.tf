# What the deploy identity may do inside the cluster: exactly the calls of the pipeline's kube
# target (pipeline/src/adapters/target/kube/access.rs, ACCESS), in the namespaces it makes them.
# tests/tests/azure_access.rs checks every entry of that list against the grants below.
#
# The cluster authorizes Entra ID identities with Azure RBAC (azure_rbac_enabled in aks.tf), so
# the grants are Azure role assignments at namespace scope (<cluster id>/namespaces/<name>),
# not Kubernetes RoleBindings. Data actions and ABAC conditions as documented in
# https://learn.microsoft.com/azure/aks/entra-id-authorization ("Create custom roles
# definitions", "Restrict custom resource access using ABAC conditions") and
# https://learn.microsoft.com/azure/aks/concepts-cluster-authorization. Kubernetes verbs map
# to data actions as get/list/watch -> read, create/update/patch -> write, delete -> delete.

# Custom roles are defined at the resource group (assignable scopes are management groups,
# subscriptions or resource groups) and assigned below it, at namespace scope.

locals {
  # The namespaces of pipeline.toml's environments (the test checks they agree).
  app_namespaces = ["paktech-dev", "paktech-staging", "paktech-prod"]
}

# Argo CD Applications in the argocd namespace: get and watch (read), patch (write).
resource "azurerm_role_definition" "ci_argocd_applications" {
  name        = "${var.name}-ci-argocd-applications"
  scope       = azurerm_resource_group.main.id
  description = "Read, watch and patch Argo CD Applications (refresh, explicit sync)."

  permissions {
    data_actions = [
      "Microsoft.ContainerService/managedClusters/customresources/read",
      "Microsoft.ContainerService/managedClusters/customresources/write",
    ]
  }

  assignable_scopes = [azurerm_resource_group.main.id]
}

# A role on custom resources covers every CRD; the condition narrows it to Argo CD's
# Applications (the attribute "kind" is the resource's plural name, as in the documented
# example 'secretproviderclasses').
resource "azurerm_role_assignment" "ci_argocd_applications" {
  scope              = "${azurerm_kubernetes_cluster.main.id}/namespaces/argocd"
  role_definition_id = azurerm_role_definition.ci_argocd_applications.role_definition_resource_id
  principal_id       = azuread_service_principal.ci.object_id
  condition_version  = "2.0"
  condition          = <<-EOT
    (
     (
      !(ActionMatches{'Microsoft.ContainerService/managedClusters/customresources/read'})
      AND
      !(ActionMatches{'Microsoft.ContainerService/managedClusters/customresources/write'})
     )
     OR
     (
      @Request[Microsoft.ContainerService/managedClusters/customResources:group] StringEqualsIgnoreCase 'argoproj.io'
      AND
      @Request[Microsoft.ContainerService/managedClusters/customResources:kind] StringEqualsIgnoreCase 'applications'
     )
    )
  EOT
}

# In each app namespace: get the Deployment, list pods, get pods/proxy (the smoke test).
# The operations list registers no data action of its own for pods/proxy, so only a pods/*
# wildcard reaches it; everything else under pods/* that writes or runs code is excluded.
resource "azurerm_role_definition" "ci_app_namespace" {
  name        = "${var.name}-ci-app-namespace"
  scope       = azurerm_resource_group.main.id
  description = "Read the app's Deployment and pods, and reach pods through the API server proxy."

  permissions {
    data_actions = [
      "Microsoft.ContainerService/managedClusters/apps/deployments/read",
      "Microsoft.ContainerService/managedClusters/pods/*",
    ]
    not_data_actions = [
      "Microsoft.ContainerService/managedClusters/pods/write",
      "Microsoft.ContainerService/managedClusters/pods/delete",
      "Microsoft.ContainerService/managedClusters/pods/exec/action",
    ]
  }

  assignable_scopes = [azurerm_resource_group.main.id]
}

resource "azurerm_role_assignment" "ci_app_namespace" {
  for_each           = toset(local.app_namespaces)
  scope              = "${azurerm_kubernetes_cluster.main.id}/namespaces/${each.key}"
  role_definition_id = azurerm_role_definition.ci_app_namespace.role_definition_resource_id
  principal_id       = azuread_service_principal.ci.object_id
}
