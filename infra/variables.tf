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

variable "gitops_repository" {
  description = "The GitOps (state) repository the pipeline pushes values to, as owner/name."
  type        = string
  default     = "paktech/paktech-gitops-state"
}

variable "prod_reviewers" {
  description = "GitHub user ids (numbers) who may approve a deployment to staging and prod, and terraform apply."
  type        = list(number)
  # No default: staging and prod with nobody to approve would let any job from main through.
  validation {
    condition     = length(var.prod_reviewers) > 0
    error_message = "prod_reviewers: at least one GitHub user id; staging, prod and infra need a reviewer."
  }
}

variable "gitops_pushers" {
  description = "Node ids of the actors (the pipeline's GitHub App or machine user) allowed to push to the GitOps repository's main."
  type        = list(string)
  default     = []
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

variable "gitops_token_encrypted" {
  description = "GITOPS_TOKEN, encrypted with the app repository's Actions public key (base64)."
  type        = string
  sensitive   = true
  default     = ""
}

variable "signing_key_encrypted" {
  description = "PAKTECH_SIGNING_KEY, encrypted with the app repository's Actions public key (base64)."
  type        = string
  sensitive   = true
  default     = ""
}
