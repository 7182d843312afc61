{{/* Chart name, overridable. */}}
{{- define "rolloutd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: the release name when it already contains the
chart name, else "<release>-<chart>"; at most 63 characters (DNS label).
*/}}
{{- define "rolloutd.fullname" -}}
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

{{/* Chart name and version for the helm.sh/chart label. */}}
{{- define "rolloutd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the daemon's pods; never change them (selectors are immutable). */}}
{{- define "rolloutd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rolloutd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Kubernetes recommended labels. Call with (dict "ctx" $ "component" "controller").
*/}}
{{- define "rolloutd.labels" -}}
{{- $ctx := .ctx -}}
helm.sh/chart: {{ include "rolloutd.chart" $ctx }}
{{ include "rolloutd.selectorLabels" $ctx }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: rolloutd
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
{{- end }}

{{/* Name of the ServiceAccount the daemon runs as. */}}
{{- define "rolloutd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rolloutd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Name of the leader-election Lease. */}}
{{- define "rolloutd.leaseName" -}}
{{- default (include "rolloutd.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/* Name of the Secret holding the webhook token. */}}
{{- define "rolloutd.webhookSecretName" -}}
{{- default (printf "%s-webhook" (include "rolloutd.fullname" .)) .Values.webhook.existingSecret }}
{{- end }}

{{/* Image reference: digest wins over tag; the tag defaults to appVersion. */}}
{{- define "rolloutd.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The daemon's rules on the workloads it manages, shared by the ClusterRole
(cluster-wide mode) and the per-namespace Roles. Each verb is one the daemon calls;
docs/helm.md explains each. Keep in step with the table in charts/rolloutd_test.go.
*/}}
{{- define "rolloutd.rules" -}}
# Informers: Deployments (the user's and the canary copies) and ReplicaSets.
# create/update/delete: the canary copy "<name>-canary"; update: the status
# annotation and spec.paused on the user's Deployment (its template only on undo).
# get/patch: the Alertmanager webhook re-reads a Deployment and marks it with the
# firing alert (rolloutd.io/alert) on whichever replica received it.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# Generated objects carry a controller owner reference (blockOwnerDeletion) to the
# user's Deployment; clusters with OwnerReferencesPermissionEnforcement require this.
- apiGroups: ["apps"]
  resources: ["deployments/finalizers"]
  verbs: ["update"]
# Revision history of the stable and canary pods (informer); get: the full
# previous ReplicaSet, whose template an alert after promotion restores; patch:
# scale back a ReplicaSet of an unvetted template the Deployment controller
# rolled out while the stable was un-paused.
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["get", "list", "watch", "patch"]
# list/watch: Service informer (the user's Service's selector and ports);
# create/delete: "<name>-canary"; get/update: restore its drifted selector or ports.
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
# list/watch: Ingress informer (does the user's Ingress exist); router nginx: read
# the user's Ingress; create/update/delete "<ingress>-canary".
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
# get: the ConfigMap of custom checks named by rolloutd.io/analysis, read at each gate.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get"]
# Events on the Deployment for every transition (repeats are patched).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.rbac.istio }}
# Router istio: the VirtualService and DestinationRule named after the Service;
# list/watch: their informer, whose events repair drifted routes.
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices", "destinationrules"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
{{- end }}
{{- if .Values.rbac.gateway }}
# Router gateway: the user's HTTPRoute (weights written by update, rolloutd's
# field manager dropped by patch once the rules are restored; watched so that a
# hand edit is repaired on its event).
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "list", "watch", "update", "patch"]
{{- end }}
{{- if .Values.rbac.grpcRoute }}
# Router gateway on a GRPCRoute (rolloutd.io/route: grpcroute/NAME): the same
# rights on the user's GRPCRoute.
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["grpcroutes"]
  verbs: ["get", "list", "watch", "update", "patch"]
{{- end }}
{{- end }}

{{/* Fails the render on settings that cannot work together. */}}
{{- define "rolloutd.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount > 1 needs leaderElection.enabled=true: without a leader every replica would reconcile the same Deployments" }}
{{- end }}
{{- if and .Values.webhook.existingSecret (not .Values.webhook.enabled) }}
{{- fail "webhook.existingSecret is set but webhook.enabled is false" }}
{{- end }}
{{- end }}
