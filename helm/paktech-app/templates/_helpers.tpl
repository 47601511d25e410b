{{/* Names and labels shared by every object of the release. */}}
{{- define "paktech-app.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "paktech-app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "paktech-app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "paktech-app.labels" -}}
{{ include "paktech-app.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
paktech.dev/environment: {{ .Values.env.APP_ENV | quote }}
{{- end -}}

{{/* The image: pinned by digest when the values pin one, else by tag. */}}
{{- define "paktech-app.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ required "image.tag or image.digest must be set" .Values.image.tag }}
{{- end -}}
{{- end -}}
