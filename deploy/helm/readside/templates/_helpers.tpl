{{/*
The chart name, truncated to the 63 characters a DNS label allows.
*/}}
{{- define "readside.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: the release name, plus the chart name unless the release name contains it.
*/}}
{{- define "readside.fullname" -}}
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

{{- define "readside.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "readside.labels" -}}
helm.sh/chart: {{ include "readside.chart" . }}
{{ include "readside.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: readside
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels shared by all components; add `app.kubernetes.io/component` per workload.
*/}}
{{- define "readside.selectorLabels" -}}
app.kubernetes.io/name: {{ include "readside.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels and selector labels of one component: (dict "root" $ "component" "query").
*/}}
{{- define "readside.componentLabels" -}}
{{ include "readside.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "readside.componentSelectorLabels" -}}
{{ include "readside.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "readside.componentName" -}}
{{- printf "%s-%s" (include "readside.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
An image reference: (dict "root" $ "image" .Values.query.image).
*/}}
{{- define "readside.image" -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" .image.repository (toString $tag) }}
{{- end }}

{{- define "readside.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "readside.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "readside.operatorServiceAccountName" -}}
{{- default (printf "%s-operator" (include "readside.fullname" .)) .Values.operator.serviceAccount.name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Where the connection URLs live: the Secret this chart renders when a URL is given,
otherwise the user's existing Secret.
*/}}
{{- define "readside.connectionsSecretName" -}}
{{- printf "%s-connections" (include "readside.fullname" .) }}
{{- end }}
{{- define "readside.databaseSecretName" -}}
{{- if .Values.database.url }}{{ include "readside.connectionsSecretName" . }}{{ else }}{{ .Values.database.existingSecret }}{{ end }}
{{- end }}
{{- define "readside.databaseSecretKey" -}}
{{- if .Values.database.url }}DATABASE_URL{{ else }}{{ .Values.database.existingSecretKey }}{{ end }}
{{- end }}
{{- define "readside.redisSecretName" -}}
{{- if .Values.redis.url }}{{ include "readside.connectionsSecretName" . }}{{ else }}{{ .Values.redis.existingSecret }}{{ end }}
{{- end }}
{{- define "readside.redisSecretKey" -}}
{{- if .Values.redis.url }}REDIS_URL{{ else }}{{ .Values.redis.existingSecretKey }}{{ end }}
{{- end }}
{{- define "readside.redisConfigured" -}}
{{- if or .Values.redis.existingSecret .Values.redis.url }}true{{ end }}
{{- end }}

{{/*
Fail early, with a message that says what to set, when a required connection is missing.
*/}}
{{- define "readside.validate" -}}
{{- include "readside.validateSecurity" . }}
{{- if not (or .Values.database.url .Values.database.existingSecret) }}
{{- fail "database: set database.url (postgresql://user:password@host:5432/db) or database.existingSecret (a Secret holding the URL under database.existingSecretKey)" }}
{{- end }}
{{- if and .Values.query.enabled (not (include "readside.redisConfigured" .)) }}
{{- fail "redis: the query API needs a cache; set redis.url (redis://host:6379/0) or redis.existingSecret" }}
{{- end }}
{{- if and .Values.dev.liveUpdate (gt (int .Values.query.replicaCount) 1) }}
{{- fail "dev.liveUpdate is for a one-pod dev loop; set query.replicaCount to 1 (or turn dev.liveUpdate off)" }}
{{- end }}
{{- end }}

{{/*
The environment every Readside process shares: connections, cache TTL, logging, tracing.
*/}}
{{- define "readside.commonEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "readside.databaseSecretName" . }}
      key: {{ include "readside.databaseSecretKey" . }}
{{- if include "readside.redisConfigured" . }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "readside.redisSecretName" . }}
      key: {{ include "readside.redisSecretKey" . }}
{{- end }}
{{- end }}

{{/*
Checksum of the configuration the pods read, so that a change rolls them.
*/}}
{{- define "readside.configChecksum" -}}
{{- $config := include (print .Template.BasePath "/configmap.yaml") . }}
{{- $secret := include (print .Template.BasePath "/secret.yaml") . }}
{{- printf "%s%s" $config $secret | sha256sum }}
{{- end }}

{{/*
Pod-level settings shared by the workloads.
*/}}
{{- define "readside.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{/*
The container security context; dev.liveUpdate (dev loop only) leaves the root filesystem
writable so that Tilt/skaffold can sync source files into the running container.
*/}}
{{- define "readside.containerSecurityContext" -}}
{{- $context := deepCopy .Values.containerSecurityContext }}
{{- if .Values.dev.liveUpdate }}
{{- $_ := set $context "readOnlyRootFilesystem" false }}
{{- end }}
{{- toYaml $context }}
{{- end }}

{{/*
The command of a service container: its entry point, or the dev supervisor around it. The
supervisor watches what the `dev` image target names in SUPERVISE_WATCH (its editable
sources under /src), so no path here depends on the image's Python version.
(dict "root" $ "command" (list ...) "package" "readside_query"; package is informative)
*/}}
{{- define "readside.command" -}}
{{- if .root.Values.dev.liveUpdate }}
- python
- /app/bin/supervise.py
- --trigger
- /tmp/.restart
- --
{{- end }}
{{- range .command }}
- {{ . | quote }}
{{- end }}
{{- end }}
