/**
 * Operating Kairos: Prometheus metrics, OpenTelemetry spans, health probes and alerts.
 */
export { createMetrics, LabelCap, type KairosMetrics, type MetricsOptions } from './metrics.js';
export { ATTR as SPAN_ATTRIBUTES, type AttemptInfo, type AttemptObserver, type AttemptOutcome } from './tracing.js';
export { observabilityHandler, startObservabilityServer, readiness, type ObservabilityHandler, type ObservabilityServer, type HandlerOptions, type ProbeTarget, type Readiness } from './http.js';
export { createAlerts, type Alert, type AlertsOptions, type KairosAlerts } from './alerts.js';
export { parseAlertRules, ALERT_EVENTS, type AlertEvent, type AlertRule } from './alert-rules.js';
export { signWebhook, verifyWebhook, WEBHOOK_HEADERS } from './webhook.js';
