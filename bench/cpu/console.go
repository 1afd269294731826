package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"time"
)

// consolePages are what an operator keeps open: the overview and the
// upstreams page, both live (the browser refetches them every 5 s).
var consolePages = []string{"/console/", "/console/upstreams"}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// viewConsole signs in to the console of the gateway at addr with the admin
// key and refetches its live pages every interval until ctx ends, as an
// open browser tab does (more often than its 5 s, to be conservative). It
// returns once signed in; the refreshing goes on in the background.
func viewConsole(ctx context.Context, addr, adminKey string, every time.Duration) error {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	base := "http://" + addr
	page, err := get(ctx, hc, base+"/console/login")
	if err != nil {
		return err
	}
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		return fmt.Errorf("console: no sign-in form")
	}
	resp, err := hc.PostForm(base+"/console/login", url.Values{"csrf_token": {m[1]}, "api_key": {adminKey}})
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if _, err := get(ctx, hc, base+"/console/"); err != nil {
		return err
	}
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				for _, p := range consolePages {
					get(ctx, hc, base+p)
				}
			}
		}
	}()
	return nil
}

func get(ctx context.Context, hc *http.Client, u string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("console %s: %d", u, resp.StatusCode)
	}
	return string(b), err
}
