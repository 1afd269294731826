// Command oauth-client calls dsgate with an OAuth2 access token obtained by
// the client credentials grant (RFC 6749 §4.4) and the official openai-go
// SDK. golang.org/x/oauth2/clientcredentials fetches the token, caches it
// and fetches a new one shortly before it expires; its transport replaces
// the SDK's Authorization header on every request.
//
// OAuth2 needs auth on, so this runs against a gateway set up with
// `dsgate init` (README.md, "Secure it"), not the auth-off quick start.
// Create a client in the same directory:
//
//	dsgate clients create --config dsgate.yaml --name demo --role developer
//
// then, with the client_id and client_secret it prints:
//
//	DSGATE_CLIENT_ID=cl_... DSGATE_CLIENT_SECRET=... go run ./examples/oauth-client "Say hello"
//
// DSGATE_URL (default http://127.0.0.1:8080) is the gateway, DSGATE_MODEL
// (default deepseek-v4-flash) the model and DSGATE_SCOPES the scopes.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, strings.Join(os.Args[1:], " ")); err != nil {
		fmt.Fprintln(os.Stderr, "oauth-client:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, prompt string) error {
	base := strings.TrimRight(getenv("DSGATE_URL", "http://127.0.0.1:8080"), "/")
	if prompt == "" {
		prompt = "Say hello in one sentence."
	}
	cc := clientcredentials.Config{
		ClientID:     os.Getenv("DSGATE_CLIENT_ID"),
		ClientSecret: os.Getenv("DSGATE_CLIENT_SECRET"),
		TokenURL:     base + "/oauth2/token",
		Scopes:       strings.Fields(os.Getenv("DSGATE_SCOPES")),
		// client_secret_basic, the method RFC 6749 requires servers to support.
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	if cc.ClientID == "" || cc.ClientSecret == "" {
		return fmt.Errorf("set DSGATE_CLIENT_ID and DSGATE_CLIENT_SECRET")
	}
	client := openai.NewClient(
		option.WithBaseURL(base+"/v1/"),
		option.WithHTTPClient(cc.Client(ctx)),
		// The SDK insists on a key; the OAuth2 transport overwrites the header.
		option.WithAPIKey("unused"),
	)
	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    getenv("DSGATE_MODEL", "deepseek-v4-flash"),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
	})
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%s/oauth2/token answered 404: OAuth2 is off on this gateway; "+
				"it needs auth.enabled (set up with `dsgate init`): %w", base, err)
		}
		return fmt.Errorf("chat completion: %w", err)
	}
	if len(resp.Choices) == 0 {
		return fmt.Errorf("no choices in response")
	}
	fmt.Println(resp.Choices[0].Message.Content)
	fmt.Fprintf(os.Stderr, "tokens: prompt=%d completion=%d\n", resp.Usage.PromptTokens, resp.Usage.CompletionTokens)
	return nil
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
