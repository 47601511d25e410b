{{/* Names and labels shared by every object of the release (as helm/paktech-app names its own). */}}
{{- define "paktech-gateway.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "paktech-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "paktech-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "paktech-gateway.labels" -}}
{{ include "paktech-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
paktech.dev/environment: {{ .Values.env.APP_ENV | quote }}
{{- end -}}

{{/* The image: pinned by digest when the values pin one, else by tag. */}}
{{- define "paktech-gateway.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ required "image.tag or image.digest must be set" .Values.image.tag }}
{{- end -}}
{{- end -}}
