{{/* The chart's name. */}}
{{- define "evolux-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of the release's objects. */}}
{{- define "evolux-exporter.fullname" -}}
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

{{/* The StatefulSet's name: at most 52 characters, so that its pods' names and
     their controller-revision-hash label stay within Kubernetes' 63. */}}
{{- define "evolux-exporter.statefulSetName" -}}
{{- include "evolux-exporter.fullname" . | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/* The StatefulSet's headless Service: "-shards" after at most 56 characters. */}}
{{- define "evolux-exporter.shardsServiceName" -}}
{{- printf "%s-shards" (include "evolux-exporter.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{/* The `helm test` pod's labels: its own name, so that no selector of the
     exporter's pods (Service, PDB, spread constraints) matches it. */}}
{{- define "evolux-exporter.testSelectorLabels" -}}
app.kubernetes.io/name: {{ include "evolux-exporter.name" . | trunc 58 | trimSuffix "-" }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Values that contradict each other fail the render with a reason. */}}
{{- define "evolux-exporter.checks" -}}
{{- if and (eq .Values.webConfig.scheme "HTTPS") (not .Values.webConfig.enabled) }}
{{- fail "webConfig.scheme HTTPS needs webConfig.enabled (a web config with TLS): the exporter serves plain HTTP without it" }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if has .name (list "EVOLUX_TOKEN" "EVOLUX_TOKEN_FILE") }}
{{- fail (printf "extraEnv: %s is not allowed: the token is only ever a mounted file (token.existingSecret), never an environment variable" .name) }}
{{- end }}
{{- end }}
{{- range .Values.extraArgs }}
{{- if hasPrefix "--evolux.token-file" (toString .) }}
{{- fail "extraArgs: --evolux.token-file is the chart's own (the token Secret's mount): set token.existingSecret and token.key" }}
{{- end }}
{{- end }}
{{- range $k, $_ := .Values.podLabels }}
{{- if has $k (list "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" "app.kubernetes.io/part-of") }}
{{- fail (printf "podLabels: %s is the chart's own label (the Service and the PodDisruptionBudget select on it)" $k) }}
{{- end }}
{{- end }}
{{- if hasKey .Values.podAnnotations "checksum/config" }}
{{- fail "podAnnotations: checksum/config is the chart's own (it rolls the pods when config changes)" }}
{{- end }}
{{- with .Values.podDisruptionBudget }}
{{- if and .enabled (eq (toString .minAvailable) "") (eq (toString .maxUnavailable) "") }}
{{- fail "podDisruptionBudget: set maxUnavailable or minAvailable (both are empty)" }}
{{- end }}
{{- end }}
{{- with .Values.serviceMonitor }}
{{- if and .enabled .interval .scrapeTimeout }}
{{- if gt (include "evolux-exporter.milliseconds" .scrapeTimeout | int64) (include "evolux-exporter.milliseconds" .interval | int64) }}
{{- fail (printf "serviceMonitor.scrapeTimeout %s is longer than serviceMonitor.interval %s: Prometheus refuses it" .scrapeTimeout .interval) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* A Prometheus duration (1h30m, 45s, 1m500ms) in milliseconds. */}}
{{- define "evolux-exporter.milliseconds" -}}
{{- $total := 0 }}
{{- range regexFindAll "[0-9]+(ms|[smhdwy])" (toString .) -1 }}
{{- $n := regexFind "^[0-9]+" . | int }}
{{- $unit := trimPrefix (regexFind "^[0-9]+" .) . }}
{{- $per := get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000 "w" 604800000 "y" 31536000000) $unit | int64 }}
{{- $total = add $total (mul $n $per) }}
{{- end }}
{{- $total }}
{{- end }}

{{- define "evolux-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: immutable, keep to these two. */}}
{{- define "evolux-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "evolux-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Common labels (component is added per object). */}}
{{- define "evolux-exporter.labels" -}}
helm.sh/chart: {{ include "evolux-exporter.chart" . }}
{{ include "evolux-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: evolux-exporter
{{- end }}

{{- define "evolux-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "evolux-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "evolux-exporter.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret holding the token: an existing one, or the chart's (token.value). */}}
{{- define "evolux-exporter.tokenSecretName" -}}
{{- if .Values.token.existingSecret }}
{{- .Values.token.existingSecret }}
{{- else }}
{{- printf "%s-token" (include "evolux-exporter.fullname" .) }}
{{- end }}
{{- end }}

{{/* The exporter's config: .Values.config with `campaigns` merged in. */}}
{{- define "evolux-exporter.config" -}}
{{- $config := deepCopy (.Values.config | default dict) }}
{{- if .Values.campaigns }}
{{- if $config.campaigns }}
{{- fail "campaigns and config.campaigns are exclusive: set one" }}
{{- end }}
{{- $list := list }}
{{- range .Values.campaigns }}
{{- if kindIs "string" . }}
{{- $list = append $list (dict "uuid" .) }}
{{- else }}
{{- $list = append $list . }}
{{- end }}
{{- end }}
{{- $_ := set $config "campaigns" $list }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* The pod template, shared by the Deployment and the StatefulSet. */}}
{{- define "evolux-exporter.podTemplate" -}}
metadata:
  labels:
    {{- include "evolux-exporter.selectorLabels" . | nindent 4 }}
    app.kubernetes.io/component: exporter
    app.kubernetes.io/part-of: evolux-exporter
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "evolux-exporter.config" . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "evolux-exporter.serviceAccountName" . }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  {{- with .Values.image.pullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
    {{- end }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: evolux-exporter
      image: {{ include "evolux-exporter.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - --config.file=/etc/evolux-exporter/config.yaml
        - --evolux.token-file=/var/run/secrets/evolux/{{ .Values.token.key }}
        - --web.listen-address=:{{ .Values.service.port }}
        {{- if .Values.webConfig.enabled }}
        - --web.config.file=/etc/evolux-exporter-web/{{ .Values.webConfig.key }}
        {{- end }}
        {{- range .Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      {{- if or (gt (int .Values.sharding.replicas) 1) .Values.extraEnv }}
      env:
        {{- if gt (int .Values.sharding.replicas) 1 }}
        # The pod's name, <name>-<ordinal>: the exporter takes the ordinal as its index.
        - name: EVOLUX_SHARD_INDEX
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: EVOLUX_SHARD_COUNT
          value: {{ .Values.sharding.replicas | quote }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      {{- with .Values.extraEnvFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: metrics
          containerPort: {{ .Values.service.port }}
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /healthz
          port: metrics
          {{- if eq .Values.webConfig.scheme "HTTPS" }}
          scheme: HTTPS
          {{- end }}
        periodSeconds: 10
        timeoutSeconds: 5
        failureThreshold: 3
      readinessProbe:
        httpGet:
          path: /readyz
          port: metrics
          {{- if eq .Values.webConfig.scheme "HTTPS" }}
          scheme: HTTPS
          {{- end }}
        periodSeconds: 10
        timeoutSeconds: 5
        failureThreshold: 3
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: /etc/evolux-exporter
          readOnly: true
        # The whole Secret as a directory, never with subPath: a rotated token
        # reaches the file, and the exporter re-reads it at every poll.
        - name: token
          mountPath: /var/run/secrets/evolux
          readOnly: true
        {{- if .Values.webConfig.enabled }}
        - name: web-config
          mountPath: /etc/evolux-exporter-web
          readOnly: true
        {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "evolux-exporter.fullname" . }}-config
    - name: token
      secret:
        secretName: {{ include "evolux-exporter.tokenSecretName" . }}
        defaultMode: 288   # 0440: read-only for the owner and the group (decimal: YAML 1.1 and 1.2 agree)
    {{- if .Values.webConfig.enabled }}
    - name: web-config
      secret:
        secretName: {{ required "webConfig.existingSecret is required with webConfig.enabled" .Values.webConfig.existingSecret }}
        defaultMode: 288   # 0440: read-only for the owner and the group (decimal: YAML 1.1 and 1.2 agree)
    {{- end }}
{{- end }}
