{{/* _helpers.tpl: names, labels and images shared by every template. */}}

{{/* The prefix of every object name: the release name, or fullnameOverride. */}}
{{- define "rds-csi-ts.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object (selector labels plus the chart and version). */}}
{{- define "rds-csi-ts.labels" -}}
app.kubernetes.io/name: rds-csi-ts
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one workload: pass (dict "root" $ "component" "controller"). */}}
{{- define "rds-csi-ts.selectorLabels" -}}
app.kubernetes.io/name: rds-csi-ts
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* An image reference from {repository, tag}; the driver's tag defaults to appVersion. */}}
{{- define "rds-csi-ts.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* The Secret holding the RDS credentials and host key: ours, or the one the user names. */}}
{{- define "rds-csi-ts.secretName" -}}
{{- default (printf "%s-rds" (include "rds-csi-ts.fullname" .)) .Values.rds.existingSecret -}}
{{- end -}}

{{/* The node plugin's socket directory on the host, under the kubelet's plugins dir. */}}
{{- define "rds-csi-ts.pluginDir" -}}
{{- printf "%s/plugins/%s" .Values.kubeletDir .Values.driverName -}}
{{- end -}}

{{/*
The binding of a ClusterRole or a Role to a ServiceAccount, both named "name": pass
(dict "root" $ "name" "<role name>" "kind" "ClusterRole|Role"), plus "serviceAccount" for one
other than the controller pod's.
*/}}
{{- define "rds-csi-ts.controllerBinding" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ .kind }}Binding
metadata:
  name: {{ .name }}
  {{- if eq .kind "Role" }}
  namespace: {{ .root.Release.Namespace }}
  {{- end }}
  labels:
    {{- include "rds-csi-ts.labels" .root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: {{ .kind }}
  name: {{ .name }}
subjects:
  - kind: ServiceAccount
    name: {{ default (printf "%s-controller" (include "rds-csi-ts.fullname" .root)) .serviceAccount }}
    namespace: {{ .root.Release.Namespace }}
{{- end -}}

{{/* What every sidecar of the controller pod shares: no privileges, its resources, the socket. */}}
{{- define "rds-csi-ts.controllerSidecar" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
resources:
  {{- toYaml .Values.controller.sidecarResources | nindent 2 }}
volumeMounts:
  - name: socket-dir
    mountPath: /csi
{{- end -}}
