export { TelemetryError, type TelemetryErrorCode } from './errors.js';
export {
  LatencyHistogram,
  type LatencyHistogramJSON,
  type LatencyHistogramOptions,
} from './latency/latency-histogram.js';
export {
  REPORT_SCHEMA_VERSION,
  parseReport,
  telemetryReportSchema,
  type ModelSummary,
  type TelemetryReport,
} from './report/report.js';
