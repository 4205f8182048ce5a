{{/* The chart's name, or nameOverride. */}}
{{- define "akidb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's object name: fullnameOverride, or <release>-akidb (just <release> when it already says akidb). */}}
{{- define "akidb.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "akidb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "akidb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "akidb.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "akidb.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "akidb.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The scheme the probes and the ServiceMonitor use. */}}
{{- define "akidb.scheme" -}}
{{- if .Values.tls.enabled -}}HTTPS{{- else -}}HTTP{{- end -}}
{{- end -}}

{{/* The Secret that holds the S3 credentials. */}}
{{- define "akidb.s3Secret" -}}
{{- default (printf "%s-s3" (include "akidb.fullname" .)) .Values.s3.existingSecret -}}
{{- end -}}

{{/* The Secret that holds the JWT signing secret, or "" when the server generates its own. */}}
{{- define "akidb.jwtSecret" -}}
{{- if .Values.auth.jwtSecret.existingSecret -}}
{{- .Values.auth.jwtSecret.existingSecret -}}
{{- else if .Values.auth.jwtSecret.value -}}
{{- printf "%s-jwt" (include "akidb.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* GOMEMLIMIT from resources.limits.memory: Ki/Mi/Gi/Ti or plain bytes, times goMemLimitRatio, in MiB. */}}
{{- define "akidb.goMemLimit" -}}
{{- $limit := "" -}}
{{- with .Values.resources.limits }}{{ $limit = toString (default "" .memory) }}{{ end -}}
{{- if $limit -}}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 -}}
{{- $bytes := 0.0 -}}
{{- $matched := false -}}
{{- range $suffix, $mult := $units -}}
{{- if hasSuffix $suffix $limit -}}
{{- $bytes = mulf (float64 (trimSuffix $suffix $limit)) $mult -}}
{{- $matched = true -}}
{{- end -}}
{{- end -}}
{{- if not $matched -}}
{{- if not (regexMatch "^[0-9]+$" $limit) -}}
{{- fail (printf "resources.limits.memory %q: use Ki, Mi, Gi, Ti or bytes" $limit) -}}
{{- end -}}
{{- $bytes = float64 $limit -}}
{{- end -}}
{{- printf "%dMiB" (int (floor (divf (mulf $bytes .Values.goMemLimitRatio) 1048576))) -}}
{{- end -}}
{{- end -}}

{{/* The Secret that holds the bootstrap admin key. */}}
{{- define "akidb.bootstrapSecret" -}}
{{- default (printf "%s-bootstrap" (include "akidb.fullname" .)) .Values.auth.bootstrapAdminKey.existingSecret -}}
{{- end -}}

{{/*
A new API key in AkiDB's form, ak_<id>_<secret>: the id is 16 characters of
lowercase base32 (a-z here), the secret 43 characters of unpadded base64url
encoding 32 bytes, so its last character carries 2 zero bits (one of
AEIMQUYcgkosw048). randAlphaNum draws from crypto/rand: about 250 bits.
*/}}
{{- define "akidb.newAPIKey" -}}
{{- $last := randInt 0 16 -}}
{{- printf "ak_%s_%s%s" (randAlpha 16 | lower) (randAlphaNum 42) (substr $last (add1 $last | int) "AEIMQUYcgkosw048") -}}
{{- end -}}
