variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "paktech"
}

variable "location" {
  description = "Azure region."
  type        = string
  default     = "westeurope"
}

variable "github_repository" {
  description = "The app repository, as owner/name, whose workflows may deploy."
  type        = string
  default     = "paktech/paktech-gitops"
}

variable "kubernetes_version" {
  description = "AKS Kubernetes version."
  type        = string
  default     = "1.33"
}

variable "node_vm_size" {
  description = "VM size of the node pools."
  type        = string
  default     = "Standard_D4s_v5"
}

variable "node_min_count" {
  description = "Autoscaler floor of the user node pool."
  type        = number
  default     = 3
}

variable "node_max_count" {
  description = "Autoscaler ceiling of the user node pool."
  type        = number
  default     = 9
}

variable "api_server_authorized_ip_ranges" {
  description = "CIDRs allowed to reach the Kubernetes API server."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Days the Log Analytics workspace keeps cluster logs."
  type        = number
  default     = 90
}
