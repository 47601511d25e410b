# The GitHub side of the boundary, so that it is the platform's and not only the pipeline's
# (integrations/github provider, https://registry.terraform.io/providers/integrations/github):
# - each deployment environment, with who may approve it, whether the requester may approve
#   their own run (prevent_self_review), and that only main may deploy to it;
# - each environment's own AZURE_CLIENT_ID (identity.tf: one identity per environment);
# - the secrets only the environments that use them can read (an environment secret reaches a
#   job only once the job is admitted to that environment, after its reviewers and branch
#   policy: https://docs.github.com/en/actions/how-tos/deploy/configure-and-manage-deployments/manage-environments);
# - the GitOps repository's main: no force push, no deletion, pushes only by the pipeline.
# tests/tests/github_boundary.rs reads this file against the workflows.

locals {
  repository_name = split("/", var.github_repository)[1]
  gitops_name     = split("/", var.gitops_repository)[1]
  # Environments whose deployments a person approves; the others run unattended (dev on every
  # push to main, prod-rollback after a failed prod job of the same run).
  reviewed_environments = ["staging", "prod"]
  # Who needs which secret: GitOps pushes happen in every deploy job, signing only in dev's.
  gitops_token_environments = ["dev", "staging", "prod", "prod-rollback"]
}

resource "github_repository_environment" "deploy" {
  for_each            = local.deploy_environments
  repository          = local.repository_name
  environment         = each.key
  can_admins_bypass   = false
  prevent_self_review = true

  dynamic "reviewers" {
    for_each = contains(local.reviewed_environments, each.key) ? [1] : []
    content {
      users = var.prod_reviewers
    }
  }

  # Only branches matching the policies below (main) may deploy here.
  deployment_branch_policy {
    protected_branches     = false
    custom_branch_policies = true
  }
}

resource "github_repository_environment_deployment_policy" "main_only" {
  for_each       = local.deploy_environments
  repository     = local.repository_name
  environment    = github_repository_environment.deploy[each.key].environment
  branch_pattern = "main"
}

# terraform.yml's apply: a person approves every change to the infrastructure.
resource "github_repository_environment" "infra" {
  repository          = local.repository_name
  environment         = "infra"
  can_admins_bypass   = false
  prevent_self_review = true

  reviewers {
    users = var.prod_reviewers
  }

  deployment_branch_policy {
    protected_branches     = false
    custom_branch_policies = true
  }
}

resource "github_repository_environment_deployment_policy" "infra_main_only" {
  repository     = local.repository_name
  environment    = github_repository_environment.infra.environment
  branch_pattern = "main"
}

# The identity each environment signs in to Azure as: the workflows name vars.AZURE_CLIENT_ID,
# and an environment's variable takes precedence over a repository's.
resource "github_actions_environment_variable" "azure_client_id" {
  for_each      = local.deploy_environments
  repository    = local.repository_name
  environment   = github_repository_environment.deploy[each.key].environment
  variable_name = "AZURE_CLIENT_ID"
  value         = azuread_application.deploy[each.value].client_id
}

# Secret values are given encrypted with the repository's public key (GitHub's "Encrypting
# secrets for the REST API"), so the plain value is neither in this code nor in the state.
resource "github_actions_environment_secret" "gitops_token" {
  for_each        = toset(local.gitops_token_environments)
  repository      = local.repository_name
  environment     = github_repository_environment.deploy[each.key].environment
  secret_name     = "GITOPS_TOKEN"
  encrypted_value = var.gitops_token_encrypted
}

resource "github_actions_environment_secret" "signing_key" {
  for_each        = toset(["dev"])
  repository      = local.repository_name
  environment     = github_repository_environment.deploy[each.key].environment
  secret_name     = "PAKTECH_SIGNING_KEY"
  encrypted_value = var.signing_key_encrypted
}

# The GitOps repository's main is what Argo CD deploys: nobody rewrites or deletes it, and
# only the pipeline pushes to it (people change values through pull requests the pipeline's
# pushes do not need).
resource "github_branch_protection" "gitops_main" {
  #checkov:skip=CKV_GIT_5:The pipeline pushes each promotion's values commit straight to main (after its own approval gate); pull request reviews would stop every deploy. Pushes are restricted to the pipeline instead
  #checkov:skip=CKV_GIT_6:The pipeline's commits are not signed with a GitHub-verified key; who may push is restricted to the pipeline, and each commit names its approvers in trailers
  repository_id           = local.gitops_name
  pattern                 = "main"
  enforce_admins          = true
  allows_force_pushes     = false
  allows_deletions        = false
  require_signed_commits  = false
  required_linear_history = true

  restrict_pushes {
    blocks_creations = true
    push_allowances  = var.gitops_pushers
  }
}
