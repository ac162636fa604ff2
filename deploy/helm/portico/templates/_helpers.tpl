{{/* The chart's name, truncated to the 63 characters a label value allows. */}}
{{- define "portico.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The objects' name: fullnameOverride, else the release name (with the chart's name unless it contains it). */}}
{{- define "portico.fullname" -}}
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

{{/* Labels the selectors use: they must not change between releases. */}}
{{- define "portico.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portico.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "portico.labels" -}}
{{ include "portico.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "portico.serviceAccountName" -}}
{{- default (include "portico.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* Empty or null values (as Traefik's values.yaml writes them) fall back to the defaults. */}}
{{- define "portico.image" -}}
{{- $repo := default "portico" .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repo = printf "%s/%s" .Values.image.registry $repo -}}
{{- end -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* namespace/name of the Service whose address goes to the Ingresses' status. */}}
{{- define "portico.publishedService" -}}
{{- default (printf "%s/%s" .Release.Namespace (include "portico.fullname" .)) .Values.providers.kubernetesIngress.publishedService.pathOverride -}}
{{- end -}}

{{/* The container's arguments: Portico reads Traefik's static options as flags. */}}
{{- define "portico.args" -}}
{{- range $name, $port := .Values.ports }}
- "--entryPoints.{{ $name }}.address=:{{ $port.port }}/{{ default "tcp" $port.protocol | lower }}"
{{- with $port.http }}{{ with .tls }}{{ if .enabled }}
- "--entryPoints.{{ $name }}.http.tls=true"
{{- with .certResolver }}
- "--entryPoints.{{ $name }}.http.tls.certResolver={{ . }}"
{{- end }}
{{- with .options }}
- "--entryPoints.{{ $name }}.http.tls.options={{ . }}"
{{- end }}
{{- end }}{{ end }}{{ end }}
{{- with $port.transport }}{{ with .lifeCycle }}
{{- with .requestAcceptGraceTimeout }}
- "--entryPoints.{{ $name }}.transport.lifeCycle.requestAcceptGraceTimeout={{ . }}"
{{- end }}
{{- with .graceTimeOut }}
- "--entryPoints.{{ $name }}.transport.lifeCycle.graceTimeOut={{ . }}"
{{- end }}
{{- end }}{{ end }}
{{- end }}
- "--ping=true"
- "--ping.entryPoint=traefik"
{{- with .Values.metrics.prometheus.entryPoint }}
- "--metrics.prometheus=true"
- "--metrics.prometheus.entryPoint={{ . }}"
{{- end }}
{{- with .Values.log.level }}
- "--log.level={{ . }}"
{{- end }}
{{- with .Values.log.format }}
- "--log.format={{ . }}"
{{- end }}
{{- with .Values.providers.kubernetesCRD }}{{ if .enabled }}
- "--providers.kubernetesCRD=true"
{{- if .allowCrossNamespace }}
- "--providers.kubernetesCRD.allowCrossNamespace=true"
{{- end }}
{{- if .allowExternalNameServices }}
- "--providers.kubernetesCRD.allowExternalNameServices=true"
{{- end }}
- "--providers.kubernetesCRD.allowEmptyServices={{ .allowEmptyServices }}"
{{- with .ingressClass }}
- "--providers.kubernetesCRD.ingressClass={{ . }}"
{{- end }}
{{- with .labelSelector }}
- "--providers.kubernetesCRD.labelSelector={{ . }}"
{{- end }}
{{- with .namespaces }}
- "--providers.kubernetesCRD.namespaces={{ join "," . }}"
{{- end }}
{{- if .nativeLBByDefault }}
- "--providers.kubernetesCRD.nativeLBByDefault=true"
{{- end }}
{{- end }}{{ end }}
{{- with .Values.providers.kubernetesIngress }}{{ if .enabled }}
- "--providers.kubernetesIngress=true"
{{- if .allowExternalNameServices }}
- "--providers.kubernetesIngress.allowExternalNameServices=true"
{{- end }}
- "--providers.kubernetesIngress.allowEmptyServices={{ .allowEmptyServices }}"
{{- with .ingressClass }}
- "--providers.kubernetesIngress.ingressClass={{ . }}"
{{- end }}
{{- with .labelSelector }}
- "--providers.kubernetesIngress.labelSelector={{ . }}"
{{- end }}
{{- with .namespaces }}
- "--providers.kubernetesIngress.namespaces={{ join "," . }}"
{{- end }}
{{- if .nativeLBByDefault }}
- "--providers.kubernetesIngress.nativeLBByDefault=true"
{{- end }}
{{- if .publishedService.enabled }}
- "--providers.kubernetesIngress.ingressEndpoint.publishedService={{ include "portico.publishedService" $ }}"
{{- end }}
{{- with .ingressEndpoint.hostname }}
- "--providers.kubernetesIngress.ingressEndpoint.hostname={{ . }}"
{{- end }}
{{- with .ingressEndpoint.ip }}
- "--providers.kubernetesIngress.ingressEndpoint.ip={{ . }}"
{{- end }}
{{- end }}{{ end }}
{{- /* issue 15's providers: the arguments Traefik's chart (_podtemplate.tpl) renders, spelt as it spells them */}}
{{- with .Values.providers.kubernetesGateway }}{{ if .enabled }}
- "--providers.kubernetesgateway"
{{- with .statusAddress }}
{{- with .ip }}
- "--providers.kubernetesgateway.statusaddress.ip={{ . }}"
{{- end }}
{{- with .hostname }}
- "--providers.kubernetesgateway.statusaddress.hostname={{ . }}"
{{- end }}
{{- if (and .service.enabled $.Values.service.enabled) }}
- "--providers.kubernetesgateway.statusaddress.service.name={{ .service.name | default (include "portico.fullname" $) }}"
- "--providers.kubernetesgateway.statusaddress.service.namespace={{ .service.namespace | default $.Release.Namespace }}"
{{- end }}
{{- end }}
{{- if .nativeLBByDefault }}
- "--providers.kubernetesgateway.nativeLBByDefault=true"
{{- end }}
{{- with .crossProviderNamespaces }}
- "--providers.kubernetesgateway.crossProviderNamespaces={{ join "," . }}"
{{- end }}
{{- with .namespaces }}
- "--providers.kubernetesgateway.namespaces={{ join "," . }}"
{{- end }}
{{- if .experimentalChannel }}
- "--providers.kubernetesgateway.experimentalchannel=true"
{{- end }}
{{- with .labelSelector }}
- "--providers.kubernetesgateway.labelSelector={{ . }}"
{{- end }}
{{- with .qps }}
- "--providers.kubernetesgateway.qps={{ . }}"
{{- end }}
{{- with .burst }}
- "--providers.kubernetesgateway.burst={{ . }}"
{{- end }}
{{- end }}{{ end }}
{{- with .Values.providers.kubernetesIngressNGINX }}{{ if .enabled }}
- "--providers.kubernetesingressnginx"
{{- with .watchNamespace }}
- "--providers.kubernetesingressnginx.watchnamespace={{ . }}"
{{- end }}
{{- if and .publishService.enabled (or $.Values.service.enabled .publishService.pathOverride) }}
- "--providers.kubernetesingressnginx.publishservice={{ default (printf "%s/%s" $.Release.Namespace (include "portico.fullname" $)) .publishService.pathOverride }}"
{{- end }}
{{- /* every other value that is set, by its name (modsec is Traefik Hub's: not read) */}}
{{- $rest := include "portico.valuesAsArgs" (dict "path" "providers.kubernetesingressnginx" "content" (omit . "enabled" "publishService" "watchNamespace" "modsec")) }}
{{- range splitList "\n" $rest }}
{{- if . }}
- {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}{{ end }}
{{- range .Values.additionalArguments }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
A map of values as --path.key=value lines, one per value that is set, as Traefik's
chart's traefik.yaml2CommandLineArgsRec writes them: booleans always (false
included), integers always, other values unless empty; lists comma-joined, maps
recursed into.
*/}}
{{- define "portico.valuesAsArgs" -}}
{{- $path := .path -}}
{{- range $key, $value := .content }}
{{- if kindIs "map" $value }}
{{ include "portico.valuesAsArgs" (dict "path" (printf "%s.%s" $path $key) "content" $value) }}
{{- else if and (kindIs "bool" $value) (ne $value nil) }}
--{{ $path }}.{{ $key }}={{ $value }}
{{- else if or (kindIs "int" $value) (kindIs "int64" $value) }}
--{{ $path }}.{{ $key }}={{ $value }}
{{- else if not (empty $value) }}
--{{ $path }}.{{ $key }}={{ if kindIs "slice" $value }}{{ join "," $value }}{{ else if kindIs "float64" $value }}{{ printf "%.0f" $value }}{{ else }}{{ $value }}{{ end }}
{{- end }}
{{- end }}
{{- end -}}
