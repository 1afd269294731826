{{/* Chart name, truncated to the 63-character DNS label limit. */}}
{{- define "dsgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, plus the chart name when it differs. */}}
{{- define "dsgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "dsgate.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "dsgate.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Common labels; every object also gets a selector set, which carries name, instance and component. */}}
{{- define "dsgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dsgate
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{- define "dsgate.gatewaySelector" -}}
app.kubernetes.io/name: {{ include "dsgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "dsgate.engineSelector" -}}
app.kubernetes.io/name: vllm
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: engine
{{- end }}

{{- define "dsgate.secretName" -}}
{{- default (printf "%s-secrets" (include "dsgate.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "dsgate.engineGPUs" -}}
{{- if gt (int .Values.engine.gpus) 0 }}{{ .Values.engine.gpus }}{{ else }}{{ mul .Values.engine.tensorParallelSize .Values.engine.pipelineParallelSize }}{{ end }}
{{- end }}
