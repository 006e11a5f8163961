{{/*
Names, labels and the few values computed from others, shared by every template.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "kajitori.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The name prefix of every object: fullnameOverride, else "<release>-<chart>", or just the
release name when it already contains the chart name. Truncated to 63 characters (DNS labels).
*/}}
{{- define "kajitori.fullname" -}}
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

{{/* "<chart>-<version>" for the helm.sh/chart label. */}}
{{- define "kajitori.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The labels that select the pod: stable across upgrades. */}}
{{- define "kajitori.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kajitori.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Every object's labels. */}}
{{- define "kajitori.labels" -}}
helm.sh/chart: {{ include "kajitori.chart" . }}
{{ include "kajitori.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kajitori
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The ServiceAccount's name. */}}
{{- define "kajitori.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kajitori.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference: repository@digest, else repository:tag (tag defaults to appVersion). */}}
{{- define "kajitori.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* The Secret the pod takes its environment from. */}}
{{- define "kajitori.secretName" -}}
{{- default (include "kajitori.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/* The path of the configuration file inside the container. */}}
{{- define "kajitori.configPath" -}}
/etc/kajitori/config.yaml
{{- end -}}

{{/*
The Settings document: settings from the values, with controller.statePath and
controller.cacheDir on the state and cache volumes unless the values set them, and
controller.namespaces set to rbac.namespaces (so that kajitori keeps to the namespaces its
Roles cover) unless the values set it; a namespace there without a Role fails the render.
*/}}
{{- define "kajitori.settings" -}}
{{- $settings := deepCopy (.Values.settings | default dict) -}}
{{- $controller := deepCopy (get $settings "controller" | default dict) -}}
{{- $rbacNamespaces := uniq (.Values.rbac.namespaces | default list) -}}
{{- if not (get $controller "namespaces") -}}
{{- if $rbacNamespaces -}}
{{- $_ := set $controller "namespaces" $rbacNamespaces -}}
{{- end -}}
{{- else if and .Values.rbac.create $rbacNamespaces -}}
{{- range $namespace := get $controller "namespaces" -}}
{{- if not (has $namespace $rbacNamespaces) -}}
{{- fail (printf "settings.controller.namespaces lists %s, which rbac.namespaces (%s) does not: kajitori would have no Role there" $namespace (join ", " $rbacNamespaces)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if not (hasKey $controller "statePath") -}}
{{- $_ := set $controller "statePath" (printf "%s/state.db" (trimSuffix "/" .Values.persistence.mountPath)) -}}
{{- end -}}
{{- if not (hasKey $controller "cacheDir") -}}
{{- $_ := set $controller "cacheDir" (trimSuffix "/" .Values.cache.mountPath) -}}
{{- end -}}
{{- $_ := set $settings "controller" $controller -}}
{{- $sections := dict -}}
{{- range $key, $value := $settings -}}
{{- if not (kindIs "invalid" $value) -}}
{{- $_ := set $sections $key $value -}}
{{- end -}}
{{- end -}}
apiVersion: kajitori.dev/v1alpha1
kind: Settings
{{ toYaml $sections }}
{{- end -}}

{{/*
The configuration file: one AppProject document per projects entry, one Application document
per applications entry, then the Settings document. Map keys are rendered in sorted order, so
the file (and its checksum) only changes when a value does.
*/}}
{{- define "kajitori.config" -}}
# kajitori configuration, rendered by the Helm chart from the release's values.
{{- range $name, $spec := .Values.projects }}
---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: {{ $name | quote }}
spec:
{{- if $spec }}
{{ toYaml $spec | indent 2 }}
{{- else }} {}
{{- end }}
{{- end }}
{{- range $name, $app := .Values.applications }}
{{- $spec := omit ($app | default dict) "annotations" "labels" }}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {{ $name | quote }}
{{- with $app.labels }}
  labels:
{{ toYaml . | indent 4 }}
{{- end }}
{{- with $app.annotations }}
  annotations:
{{ toYaml . | indent 4 }}
{{- end }}
spec:
{{- if $spec }}
{{ toYaml $spec | indent 2 }}
{{- else }} {}
{{- end }}
{{- end }}
---
{{ include "kajitori.settings" . }}
{{- end -}}

{{/* The rules of the (Cluster)Roles: read, write, then the extra ones. */}}
{{- define "kajitori.rbacRules" -}}
{{- $rules := concat (.Values.rbac.readRules | default list) (.Values.rbac.writeRules | default list) (.Values.rbac.extraRules | default list) -}}
{{- if $rules }}
{{- toYaml $rules }}
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/* An emptyDir volume source in flow style, with a size limit when one is given. */}}
{{- define "kajitori.emptyDir" -}}
{{- if . -}}
{sizeLimit: {{ . | quote }}}
{{- else -}}
{}
{{- end -}}
{{- end -}}
