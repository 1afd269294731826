// Command oauth-client calls dsgate with an OAuth2 access token obtained by
// the client credentials grant (RFC 6749 §4.4) and the official openai-go
// SDK. golang.org/x/oauth2/clientcredentials fetches the token, caches it
// and fetches a new one shortly before it expires; its transport replaces
// the SDK's Authorization header on every request.
//
// Create a client first:
//
//	dsgate clients create --db dsgate.db --name demo --role developer
//
// then:
//
//	DSGATE_URL=http://127.0.0.1:8080 DSGATE_CLIENT_ID=cl_... DSGATE_CLIENT_SECRET=... \
//	  go run ./examples/oauth-client "Say hello"
package main

import (
	"context"
	"fmt"
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
