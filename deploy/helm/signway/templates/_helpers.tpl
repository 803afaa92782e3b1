{{- define "signway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "signway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "signway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "signway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "signway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "signway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "signway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "signway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "signway.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The config file: the user's config with listen and utility addresses
     defaulting to the container ports. */}}
{{- define "signway.config" -}}
{{- $cfg := deepCopy .Values.config }}
{{- $listen := deepCopy (default dict $cfg.listen) }}
{{- if not $listen.address }}{{ $_ := set $listen "address" (printf "0.0.0.0:%v" .Values.ports.http) }}{{ end }}
{{- $_ := set $cfg "listen" $listen }}
{{- $utility := deepCopy (default dict $cfg.utility) }}
{{- if not $utility.address }}{{ $_ := set $utility "address" (printf "0.0.0.0:%v" .Values.ports.utility) }}{{ end }}
{{- $_ := set $cfg "utility" $utility }}
{{- toYaml $cfg }}
{{- end }}
