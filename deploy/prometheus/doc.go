// Package prometheus holds no code: the directory carries dsgate's
// Prometheus configuration (prometheus.yml), alerting rules (alerts.yaml)
// and their promtool unit tests (alerts_test.yaml). rules_test.go checks
// them with promtool and against the metric names internal/metrics defines.
package prometheus
