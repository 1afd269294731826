package httpapi

import "github.com/dsgate/dsgate/internal/pipeline"

// Auditor receives one record per request; see pipeline.Auditor.
type Auditor = pipeline.Auditor

// Recorder emits the metrics and the audit record of a finished request;
// it lives in the pipeline so HTTP, gRPC and batch items share it.
type Recorder = pipeline.Recorder
