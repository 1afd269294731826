// Package grafana holds no code: the directory carries dsgate's Grafana
// dashboard (dsgate.json). dashboard_test.go checks that every panel
// queries metrics that internal/metrics defines or that a known exporter
// (NVIDIA DCGM, vLLM, Prometheus) provides.
package grafana
