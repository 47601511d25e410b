terraform {
  required_version = ">= 1.6"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
    azuread = {
      source  = "hashicorp/azuread"
      version = "~> 3.0"
    }
    github = {
      source  = "integrations/github"
      version = "~> 6.0"
    }
  }

  # State lives in a storage account; configure with `-backend-config` or the ARM_* variables.
  backend "azurerm" {
    resource_group_name  = "paktech-tfstate"
    storage_account_name = "paktechtfstate"
    container_name       = "tfstate"
    key                  = "paktech.tfstate"
    use_oidc             = true
    # Data-plane access with the Entra token (Storage Blob Data Reader/Contributor on the
    # container) instead of listing the account's keys, which the read-only plan identity may
    # not do: https://developer.hashicorp.com/terraform/language/backend/azurerm
    # ("use_azuread_auth").
    use_azuread_auth = true
  }
}

provider "azurerm" {
  features {}
  use_oidc = true
  # The provider registers resource providers at subscription scope on its first call, which
  # the plan identity (Reader on the resource group) may not: every plan would fail with 403.
  # They are registered once by hand instead (docs/operations.md, "Run on AKS").
  resource_provider_registrations = "none"
}

provider "azuread" {
  use_oidc = true
}

# GitHub: the token comes from GITHUB_TOKEN (terraform.yml: a token of the `infra` environment
# for apply, a read-only one for plan and drift; docs/operations.md, "Run on AKS").
provider "github" {
  owner = split("/", var.github_repository)[0]
}
