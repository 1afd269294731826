package benchkit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Result is one measured cell.
type Result struct {
	OK, Errs int
	FirstErr string
	Window   time.Duration
	Lat      []time.Duration // sorted
	CPU      time.Duration   // CPU time of watchPID over the window
	CoreBusy float64         // share of the window watchCore was busy, whoever used it
	CPUErr   error
}

// othersPct is the share of the watched core that other processes used
// during the window, in percent: the noise in this cell.
func (r *Result) OthersPct() float64 {
	return max(100*(r.CoreBusy-r.CPU.Seconds()/r.Window.Seconds()), 0)
}

func (r *Result) RPS() float64 { return float64(r.OK) / r.Window.Seconds() }

// pct returns the p-th percentile (0..100) latency, nearest rank.
func (r *Result) Pct(p float64) time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	i := int(p/100*float64(len(r.Lat))+0.5) - 1
	return r.Lat[min(max(i, 0), len(r.Lat)-1)]
}

func (r *Result) Mean() time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range r.Lat {
		sum += d
	}
	return sum / time.Duration(len(r.Lat))
}

// cpuPerReq is the watched process's CPU time per successful request, in µs.
func (r *Result) CPUPerReq() float64 {
	if r.OK == 0 {
		return 0
	}
	return float64(r.CPU.Microseconds()) / float64(r.OK)
}

// NewLocalClient is an HTTP client that dials only 127.0.0.1.
func NewLocalClient(conc int) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
					return nil, fmt.Errorf("refusing to dial %s: only 127.0.0.1", addr)
				}
				return d.DialContext(ctx, network, addr)
			},
			MaxConnsPerHost:     conc,
			MaxIdleConnsPerHost: conc,
			DisableCompression:  true,
		},
	}
}

// Sample is one request's outcome.
type Sample struct {
	Done time.Time
	Lat  time.Duration
	Err  error
}

// FirstError returns the first non-nil error.
func FirstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
