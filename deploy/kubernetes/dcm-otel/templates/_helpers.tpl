{{/* Names and labels shared by every object of the chart. */}}

{{- define "dcm-otel.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dcm-otel.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "app"). */}}
{{- define "dcm-otel.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "dcm-otel.componentLabels" -}}
{{ include "dcm-otel.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The gateways' headless Service: the name the agents' load_balancing exporter resolves. */}}
{{- define "dcm-otel.gatewayService" -}}
{{- printf "%s-gateway" (include "dcm-otel.fullname" .) -}}
{{- end -}}

{{/* The agents' and the gateways' ConfigMap of collector/config files. */}}
{{- define "dcm-otel.collectorConfigMap" -}}
{{- printf "%s-collector-config" (include "dcm-otel.fullname" .) -}}
{{- end -}}

{{/*
Environment of a dcm_otel process (the app or a processor): where to send OTLP (the agent on the same node,
by the node's IP from the downward API) and the Kubernetes resource attributes.
Call with (dict "root" $ "metricsExporter" "prometheus").
*/}}
{{- define "dcm-otel.telemetryEnv" -}}
- name: K8S_NODE_IP
  valueFrom: {fieldRef: {fieldPath: status.hostIP}}
- name: K8S_POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: K8S_NAMESPACE
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
- name: K8S_NODE_NAME
  valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
- name: OTEL_SERVICE_NAME
  value: {{ .root.Values.serviceName | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ printf "http://$(K8S_NODE_IP):%v" (ternary .root.Values.agent.hostPorts.grpc .root.Values.agent.hostPorts.http (eq .root.Values.otlp.protocol "grpc")) | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ .root.Values.otlp.protocol | quote }}
- name: OTEL_METRICS_EXPORTER
  value: {{ .metricsExporter | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: "k8s.pod.name=$(K8S_POD_NAME),k8s.namespace.name=$(K8S_NAMESPACE),k8s.node.name=$(K8S_NODE_NAME)"
{{- with .root.Values.environment }}
- name: DCM_OTEL_ENVIRONMENT
  value: {{ . | quote }}
{{- end }}
{{- range $name, $value := .root.Values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/*
Environment of a collector (agent or gateway): every listener on the pod's interfaces, the node's name as
host.name (resource_detection's env detector reads OTEL_RESOURCE_ATTRIBUTES and wins over the pod's hostname).
*/}}
{{- define "dcm-otel.collectorEnv" -}}
- name: K8S_NODE_NAME
  valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
- name: OTELCOL_OTLP_GRPC_ENDPOINT
  value: "0.0.0.0:4317"
- name: OTELCOL_OTLP_HTTP_ENDPOINT
  value: "0.0.0.0:4318"
- name: OTELCOL_HEALTH_ENDPOINT
  value: "0.0.0.0:13133"
- name: OTELCOL_TELEMETRY_HOST
  value: "0.0.0.0"
- name: OTELCOL_TELEMETRY_PORT
  value: "8888"
- name: OTELCOL_LOG_LEVEL
  value: {{ .Values.collector.logLevel | quote }}
{{- end -}}

{{/* The container ports, probes and config volume mount every collector has. */}}
{{- define "dcm-otel.collectorContainer" -}}
image: {{ printf "%s:%s" .Values.collector.image.repository .Values.collector.image.tag | quote }}
imagePullPolicy: {{ .Values.collector.image.pullPolicy }}
{{- with .Values.collector.command }}
command: {{- toYaml . | nindent 2 }}
{{- end }}
livenessProbe:
  httpGet: {path: /, port: health}
readinessProbe:
  httpGet: {path: /, port: health}
volumeMounts:
  - name: config
    mountPath: /etc/otelcol
    readOnly: true
{{- end -}}

{{- define "dcm-otel.collectorPorts" -}}
- {name: health, containerPort: 13133, protocol: TCP}
- {name: telemetry, containerPort: 8888, protocol: TCP}
{{- end -}}
