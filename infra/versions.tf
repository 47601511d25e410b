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
  }

  # State lives in a storage account; configure with `-backend-config` or the ARM_* variables.
  backend "azurerm" {
    resource_group_name  = "paktech-tfstate"
    storage_account_name = "paktechtfstate"
    container_name       = "tfstate"
    key                  = "paktech.tfstate"
    use_oidc             = true
  }
}

provider "azurerm" {
  features {}
  use_oidc = true
}

provider "azuread" {
  use_oidc = true
}
