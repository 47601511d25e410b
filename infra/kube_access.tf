# What each deploy identity may do inside the cluster: exactly the calls of the pipeline's kube
# target (crates/adapters/src/target/kube/access.rs, ACCESS), in its own environment's
# namespace and nowhere else. tests/tests/azure_access.rs checks every entry of that list
# against the grants below, and that no identity reaches another environment's namespace.
#
# Every call is namespace-scoped to the environment: its Argo CD Application lives in the
# environment's namespace too (Argo CD "Applications in any namespace", gitops/bootstrap/), so
# dev's identity cannot read or change staging's or prod's Application, and cannot write
# anything in `argocd`, where an Application may name any project.
#
# The cluster authorizes Entra ID identities with Azure RBAC (azure_rbac_enabled in aks.tf), so
# the grants are Azure role assignments at namespace scope (<cluster id>/namespaces/<name>),
# not Kubernetes RoleBindings. Data actions and ABAC conditions as documented in
# https://learn.microsoft.com/azure/aks/entra-id-authorization ("Create custom roles
# definitions", "Restrict custom resource access using ABAC conditions") and
# https://learn.microsoft.com/azure/aks/concepts-cluster-authorization. Kubernetes verbs map
# to data actions as get/list/watch -> read, create/update/patch -> write, delete -> delete,
# whatever the subresource, except pods/exec (pods/exec/action): GET on pods/proxy is
# pods/read (AKS's authorization webhook, kubeguard/guard
# authz/providers/azure/rbac/checkaccessreqhelper.go, getResourceAndAction and getActionName).

# Custom roles are defined at the resource group (assignable scopes are management groups,
# subscriptions or resource groups) and assigned below it, at namespace scope.

locals {
  # Each environment's namespace (pipeline.toml's; the test checks they agree), by the deploy
  # identity that may act there.
  app_namespaces = {
    dev     = "paktech-dev"
    staging = "paktech-staging"
    prod    = "paktech-prod"
  }
}

# Argo CD Applications: get and watch (read), patch (write).
resource "azurerm_role_definition" "deploy_argocd_applications" {
  name        = "${var.name}-deploy-argocd-applications"
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
# example 'secretproviderclasses'). The condition cannot name one Application: the namespace
# scope is what keeps each identity to its own environment's.
resource "azurerm_role_assignment" "deploy_argocd_applications" {
  for_each           = local.app_namespaces
  scope              = "${azurerm_kubernetes_cluster.main.id}/namespaces/${each.value}"
  role_definition_id = azurerm_role_definition.deploy_argocd_applications.role_definition_resource_id
  principal_id       = azuread_service_principal.deploy[each.key].object_id
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

# In its environment's namespace: get the Deployment, list pods, get pods/proxy (smoke test,
# /metrics, synthetic load). GET on the proxy subresource is authorized as pods/read, so read
# is all it takes: no pods/* wildcard, nothing that writes or runs code.
resource "azurerm_role_definition" "deploy_app_namespace" {
  name        = "${var.name}-deploy-app-namespace"
  scope       = azurerm_resource_group.main.id
  description = "Read the app's Deployment and pods, and reach pods through the API server proxy."

  permissions {
    data_actions = [
      "Microsoft.ContainerService/managedClusters/apps/deployments/read",
      "Microsoft.ContainerService/managedClusters/pods/read",
    ]
  }

  assignable_scopes = [azurerm_resource_group.main.id]
}

resource "azurerm_role_assignment" "deploy_app_namespace" {
  for_each           = local.app_namespaces
  scope              = "${azurerm_kubernetes_cluster.main.id}/namespaces/${each.value}"
  role_definition_id = azurerm_role_definition.deploy_app_namespace.role_definition_resource_id
  principal_id       = azuread_service_principal.deploy[each.key].object_id
}
