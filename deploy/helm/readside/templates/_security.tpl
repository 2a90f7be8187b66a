{{/*
Secured connections (README: "Pointing Readside at a secured Kafka, PostgreSQL and Redis").
Credentials and CA bundles come only from existing Secrets, mounted read-only under
/etc/readside/<name>/; the processes read them from files (*_FILE, *_CAFILE...), so no secret
is ever in a ConfigMap, an argument or the environment. The operator copies the projection
Deployment's env, volumes and mounts into its Jobs and the BlueGreen shadow.

Each helper takes (dict "root" $ "kafka" true "postgres" true "redis" true): what that pod
talks to.
*/}}
{{- define "readside.secretMounts" -}}
{{- $v := .root.Values }}
{{- $mounts := list }}
{{- if .kafka }}
{{- if $v.kafka.security.sasl.existingSecret }}{{ $mounts = append $mounts (list "kafka-sasl" $v.kafka.security.sasl.existingSecret) }}{{ end }}
{{- if $v.kafka.security.tls.existingSecret }}{{ $mounts = append $mounts (list "kafka-tls" $v.kafka.security.tls.existingSecret) }}{{ end }}
{{- end }}
{{- if .postgres }}
{{- if $v.database.tls.existingSecret }}{{ $mounts = append $mounts (list "postgres-tls" $v.database.tls.existingSecret) }}{{ end }}
{{- if $v.database.passwordSecret }}{{ $mounts = append $mounts (list "postgres-password" $v.database.passwordSecret) }}{{ end }}
{{- end }}
{{- if .redis }}
{{- if $v.redis.tls.existingSecret }}{{ $mounts = append $mounts (list "redis-tls" $v.redis.tls.existingSecret) }}{{ end }}
{{- if $v.redis.acl.existingSecret }}{{ $mounts = append $mounts (list "redis-acl" $v.redis.acl.existingSecret) }}{{ end }}
{{- end }}
{{- toJson $mounts }}
{{- end }}

{{- define "readside.securityVolumeMounts" -}}
{{- range (include "readside.secretMounts" . | fromJsonArray) }}
- name: {{ index . 0 }}
  mountPath: /etc/readside/{{ index . 0 }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "readside.securityVolumes" -}}
{{- range (include "readside.secretMounts" . | fromJsonArray) }}
- name: {{ index . 0 }}
  secret:
    secretName: {{ index . 1 | quote }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{- define "readside.tlsFileEnv" -}}
{{- $tls := .tls }}
{{- if $tls.existingSecret }}
- name: {{ .ca }}
  value: /etc/readside/{{ .dir }}/{{ $tls.caKey }}
{{- if $tls.certKey }}
- name: {{ .cert }}
  value: /etc/readside/{{ .dir }}/{{ $tls.certKey }}
- name: {{ .key }}
  value: /etc/readside/{{ .dir }}/{{ $tls.keyKey }}
{{- end }}
{{- end }}
{{- end }}

{{- define "readside.securityEnv" -}}
{{- $v := .root.Values }}
{{- if .kafka }}
{{- $k := $v.kafka.security }}
{{- if ne $k.protocol "PLAINTEXT" }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ $k.protocol | quote }}
{{- end }}
{{- if hasPrefix "SASL_" $k.protocol }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $k.sasl.mechanism | quote }}
- name: KAFKA_SASL_USERNAME_FILE
  value: /etc/readside/kafka-sasl/{{ $k.sasl.usernameKey }}
- name: KAFKA_SASL_PASSWORD_FILE
  value: /etc/readside/kafka-sasl/{{ $k.sasl.passwordKey }}
{{- end }}
{{- if hasSuffix "SSL" $k.protocol }}
- name: KAFKA_SSL_CHECK_HOSTNAME
  value: {{ $k.tls.checkHostname | quote }}
{{- include "readside.tlsFileEnv" (dict "tls" $k.tls "dir" "kafka-tls" "ca" "KAFKA_SSL_CAFILE" "cert" "KAFKA_SSL_CERTFILE" "key" "KAFKA_SSL_KEYFILE") }}
{{- end }}
{{- end }}
{{- if .postgres }}
{{- with $v.database.tls.sslmode }}
- name: PGSSLMODE
  value: {{ . | quote }}
{{- end }}
{{- include "readside.tlsFileEnv" (dict "tls" $v.database.tls "dir" "postgres-tls" "ca" "PGSSLROOTCERT" "cert" "PGSSLCERT" "key" "PGSSLKEY") }}
{{- if $v.database.passwordSecret }}
- name: PGPASSWORD_FILE
  value: /etc/readside/postgres-password/{{ $v.database.passwordKey }}
{{- end }}
{{- end }}
{{- if .redis }}
{{- include "readside.tlsFileEnv" (dict "tls" $v.redis.tls "dir" "redis-tls" "ca" "REDIS_SSL_CAFILE" "cert" "REDIS_SSL_CERTFILE" "key" "REDIS_SSL_KEYFILE") }}
{{- if $v.redis.tls.existingSecret }}
- name: REDIS_SSL_CHECK_HOSTNAME
  value: {{ $v.redis.tls.checkHostname | quote }}
{{- end }}
{{- if $v.redis.acl.existingSecret }}
- name: REDIS_USERNAME_FILE
  value: /etc/readside/redis-acl/{{ $v.redis.acl.usernameKey }}
- name: REDIS_PASSWORD_FILE
  value: /etc/readside/redis-acl/{{ $v.redis.acl.passwordKey }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Refuse combinations that cannot connect, naming the value to set.
*/}}
{{- define "readside.validateSecurity" -}}
{{- $k := .Values.kafka.security }}
{{- if and (hasPrefix "SASL_" $k.protocol) (not (and $k.sasl.mechanism $k.sasl.existingSecret)) }}
{{- fail (printf "kafka.security.protocol=%s needs kafka.security.sasl.mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) and kafka.security.sasl.existingSecret (a Secret with the user name and password)" $k.protocol) }}
{{- end }}
{{- if and $k.tls.existingSecret (not (hasSuffix "SSL" $k.protocol)) }}
{{- fail "kafka.security.tls.existingSecret is set but kafka.security.protocol does not use TLS: use SSL or SASL_SSL" }}
{{- end }}
{{- if and .Values.database.tls.existingSecret (not (has .Values.database.tls.sslmode (list "require" "verify-ca" "verify-full"))) }}
{{- fail "database.tls.existingSecret is set: set database.tls.sslmode to verify-full (or verify-ca, require)" }}
{{- end }}
{{- range $name, $tls := dict "kafka.security.tls" $k.tls "database.tls" .Values.database.tls "redis.tls" .Values.redis.tls }}
{{- if and $tls.certKey (not $tls.keyKey) }}
{{- fail (printf "%s.certKey is set: set %s.keyKey too (the client key)" $name $name) }}
{{- end }}
{{- end }}
{{- end }}
