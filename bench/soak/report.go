package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// seriesClasses are the answer classes of the time-series columns, in
// order; anything else is counted under "other".
var seriesClasses = []string{"ok", "400", "429", "5xx", "stream error", "transport"}

// report prints the Markdown report and returns whether a check failed.
func (r *runResult) report(w io.Writer) (failed bool) {
	c := r.c
	fmt.Fprintf(w, "### Soak run (%s)\n\n", r.started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- command: `go run ./bench/soak %s`\n", strings.Join(c.args, " "))
	fmt.Fprintf(w, "- %v of open-loop traffic at %g req/s (%d sent over %.0fs); every 20 requests: 6 streams, 6 non-streams, "+
		"4 cacheable (temperature 0, thinking off, 4 prompts), 1 bad request (400), 3 from the key limited to %d RPM\n",
		c.duration, c.rate, r.rec.sent, r.elapsed.Seconds(), c.limitedRPM)
	fmt.Fprintf(w, "- %d simulators (`dsgate sim %s`), one SIGKILLed in turn every %v and restarted %v later; SIGHUP to the gateway every %v\n",
		c.upstreams, strings.Join(c.simArgs, " "), c.killEvery, c.down, c.reloadEvery)
	fmt.Fprintf(w, "- gateway: auth on (SQLite store), memory cache, audit to files, usage recorded, `routing.max_attempts: 5`, shutdown_grace 10s\n\n")

	r.series(w)
	r.totals(w)
	failed = r.checks(w)
	if r.leaks(w) {
		failed = true
	}
	r.lifecycle(w)
	if failed {
		fmt.Fprintf(w, "\n**Result: FAIL** (files kept in %s)\n", r.dir)
	} else {
		fmt.Fprintf(w, "\n**Result: pass**\n")
	}
	return failed
}

func (r *runResult) series(w io.Writer) {
	fmt.Fprintf(w, "#### Time series (%v windows)\n\n", r.c.sampleEvery)
	fmt.Fprintf(w, "| t s | sent/s | answered/s | %s | other | unexpected %% | in flight | RSS MB | goroutines |\n", strings.Join(seriesClasses, " | "))
	fmt.Fprintf(w, "|---:|---:|---:|%s---:|---:|---:|---:|---:|\n", strings.Repeat("---:|", len(seriesClasses)))
	for _, s := range r.samples {
		secs := s.window.Seconds()
		fmt.Fprintf(w, "| %.0f | %.1f | %.1f |", s.at.Seconds(), float64(s.sent)/secs, float64(s.done)/secs)
		other := s.done
		for _, k := range seriesClasses {
			fmt.Fprintf(w, " %d |", s.classes[k])
			other -= s.classes[k]
		}
		fmt.Fprintf(w, " %d | %.2f | %d | %s | %s |\n", other, s.errPct(), s.inFlight, orDash(s.rssMB >= 0, fmt.Sprintf("%.1f", s.rssMB)),
			orDash(s.goroutines >= 0, fmt.Sprint(s.goroutines)))
	}
	fmt.Fprintln(w, "\n\"unexpected\" is every answer that is not the normal one for its request: 200 with a complete body or "+
		"stream ([DONE], no error event), 400 for the bad requests, 200 or 429 for the limited key.")
	fmt.Fprintln(w)
}

func (r *runResult) totals(w io.Writer) {
	fmt.Fprintf(w, "#### Totals per key\n\n| key | sent | answers by status | ok | stream errors | transport | cache hits | unexpected |\n|---|---:|---|---:|---:|---:|---:|---:|\n")
	all := &tally{statuses: map[int]int{}, classes: map[string]int{}}
	for _, name := range []string{"main", "second", "limited"} {
		t := r.rec.tally(name)
		fmt.Fprintf(w, "| %s | %d | %s | %d | %d | %d | %d | %d |\n", name, t.sent, statusString(t.statuses),
			t.classes["ok"], t.classes["stream error"], t.classes["transport"], t.hits, t.unexpected)
		all.sent += t.sent
		all.hits += t.hits
		all.unexpected += t.unexpected
		for k, v := range t.statuses {
			all.statuses[k] += v
		}
		for k, v := range t.classes {
			all.classes[k] += v
		}
	}
	fmt.Fprintf(w, "| **all** | %d | %s | %d | %d | %d | %d | %d |\n\n", all.sent, statusString(all.statuses),
		all.classes["ok"], all.classes["stream error"], all.classes["transport"], all.hits, all.unexpected)
	if all.sent > 0 {
		fmt.Fprintf(w, "Unexpected answers: %d of %d (%.3f%%).\n\n", all.unexpected, all.sent, 100*float64(all.unexpected)/float64(all.sent))
	}
	fmt.Fprintln(w, "| request kind | answers | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|")
	for k := kindStream; k <= kindLimited; k++ {
		lat := slices.Clone(r.rec.lat[k])
		slices.Sort(lat)
		fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %.1f |\n", k, len(lat), ms(pct(lat, 0.50)), ms(pct(lat, 0.99)), ms(pct(lat, 1)))
	}
	fmt.Fprintln(w)
	if len(r.rec.samples) > 0 {
		fmt.Fprintln(w, "First unexpected answers:")
		fmt.Fprintln(w)
		for _, s := range r.rec.samples {
			fmt.Fprintf(w, "- `%s`\n", strings.ReplaceAll(s, "`", "'"))
		}
		fmt.Fprintln(w)
	}
}

// checks prints usage = served and audit = served per key.
func (r *runResult) checks(w io.Writer) (failed bool) {
	fmt.Fprintf(w, "#### Usage and audit against what the load generator saw\n\n")
	if r.usageErr != nil {
		fmt.Fprintf(w, "- usage could not be read: %v\n", r.usageErr)
		failed = true
	}
	if r.auditErr != nil {
		fmt.Fprintf(w, "- audit could not be read: %v\n", r.auditErr)
		failed = true
	}
	fmt.Fprintln(w, "| key | admitted answers (2xx+5xx) | usage requests | usage = served | answers by status | audit records by status | audit = served | tokens seen by client (not hits) | usage tokens |")
	fmt.Fprintln(w, "|---|---:|---:|---|---|---|---|---:|---:|")
	for _, name := range []string{"main", "second", "limited"} {
		t, id := r.rec.tally(name), r.keys[name].id
		adm := admitted(t.statuses)
		u, uok := r.usage[id]
		usageOK := r.usageErr == nil && uok && u.Requests == int64(adm) && t.classes["transport"] == 0
		var aud map[int]int
		if r.audit != nil {
			aud = r.audit.byPrincipal[id]
		}
		auditOK := r.auditErr == nil && sameCounts(aud, t.statuses) && t.classes["transport"] == 0
		failed = failed || !usageOK || !auditOK
		fmt.Fprintf(w, "| %s (`%s`) | %d | %d | %s | %s | %s | %s | %d+%d | %d+%d |\n", name, id, adm, u.Requests, verdict(usageOK),
			statusString(t.statuses), statusString(aud), verdict(auditOK),
			t.tokens.Prompt, t.tokens.Completion, u.Prompt, u.Completion)
	}
	if r.audit != nil {
		fmt.Fprintf(w, "\nAudit: %d API records in %d file(s), %d duplicate ids, %d unreadable lines.",
			r.audit.records, r.audit.files, r.audit.duplicates, r.audit.bad)
	}
	fmt.Fprintln(w, " Usage is read after a graceful stop and a restart of the gateway. A transport error (no status seen) "+
		"fails both checks, since the client cannot say what it should be. Tokens (prompt+completion) are informational: "+
		"the client counts the usage object of every 200 answer that was not a cache hit, when there is one.")
	fmt.Fprintln(w)
	return failed
}

// leaks prints the RSS and goroutine growth and whether it is within the
// tolerance.
func (r *runResult) leaks(w io.Writer) (failed bool) {
	var rss, gor []float64
	for _, s := range r.samples {
		if s.rssMB >= 0 {
			rss = append(rss, s.rssMB)
		}
		if s.goroutines >= 0 {
			gor = append(gor, float64(s.goroutines))
		}
	}
	fmt.Fprintf(w, "#### Growth (flat: mean of the last third of the samples <= (1 + %.2f) x mean of the first third + slack)\n\n", r.c.leakTolerance)
	fmt.Fprintln(w, "| series | samples | first third | last third | ratio | slack | flat |\n|---|---:|---:|---:|---:|---:|---|")
	for _, g := range []struct {
		name  string
		v     []float64
		slack float64
	}{{"RSS MB", rss, r.c.rssSlackMB}, {"goroutines", gor, float64(r.c.goroutineSlack)}} {
		first, last, ratio, ok := growth(g.v)
		flat := ok && last <= first*(1+r.c.leakTolerance)+g.slack
		failed = failed || !flat
		fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %.2f | %g | %s |\n", g.name, len(g.v), first, last, ratio, g.slack, verdict(flat))
	}
	fmt.Fprintln(w, "\nGoroutines are read at one instant and follow the requests in flight (several per request), hence their slack.")
	fmt.Fprintln(w)
	return failed
}

func (r *runResult) lifecycle(w io.Writer) {
	fmt.Fprintf(w, "#### Faults and lifecycle\n\n")
	fmt.Fprintf(w, "- SIGTERM at the end: the gateway exited in %v, %s\n", r.stopTook.Round(time.Millisecond),
		map[bool]string{true: "exit status 0", false: "NOT cleanly (non-zero exit or killed after 30 s)"}[r.stopClean])
	fmt.Fprintf(w, "- gateway log: %d \"config reloaded\", %d \"reload refused\"\n", r.reloads, r.refused)
	fmt.Fprintf(w, "- events:\n")
	for _, e := range r.events {
		fmt.Fprintf(w, "  - %s\n", strings.TrimSpace(e))
	}
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "**NO**"
}

func orDash(ok bool, s string) string {
	if ok {
		return s
	}
	return "-"
}
