package launch

import (
	"fmt"
	"strings"
)

// shellQuote quotes s for a POSIX shell when it holds anything beyond a
// conservative safe set.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@+%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// Shell renders the command for a POSIX shell, one flag per line.
func (c Command) Shell() string {
	var b strings.Builder
	for i, p := range c.Program {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(shellQuote(p))
	}
	for _, a := range c.Args {
		b.WriteString(" \\\n  ")
		switch {
		case a.Flag == "":
			b.WriteString(shellQuote(a.Value))
		case a.Value == "":
			b.WriteString(a.Flag)
		default:
			b.WriteString(a.Flag + " " + shellQuote(a.Value))
		}
	}
	b.WriteByte('\n')
	return b.String()
}

// K8sArgs renders the arguments as Kubernetes container args, one string
// per item, flags in --flag=value form.
func (c Command) K8sArgs() []string {
	out := make([]string, 0, len(c.Args))
	for _, a := range c.Args {
		switch {
		case a.Flag == "":
			out = append(out, a.Value)
		case a.Value == "":
			out = append(out, a.Flag)
		default:
			out = append(out, a.Flag+"="+a.Value)
		}
	}
	return out
}

// yamlString quotes s as a YAML double-quoted scalar.
func yamlString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// Kubernetes renders a container spec (the element of
// spec.template.spec.containers) matching deploy/kubernetes/vllm-deployment.yaml:
// the entry point, the args, the port, the GPU limit, /dev/shm and the
// model volume mounts.
func (c Command) Kubernetes() string {
	var b strings.Builder
	fmt.Fprintf(&b, "- name: engine\n  image: %s\n", yamlString(c.Image))
	b.WriteString("  command:")
	for _, p := range c.Program {
		fmt.Fprintf(&b, "\n    - %s", yamlString(p))
	}
	b.WriteString("\n  args:")
	for _, a := range c.K8sArgs() {
		fmt.Fprintf(&b, "\n    - %s", yamlString(a))
	}
	fmt.Fprintf(&b, "\n  env:\n    - name: HF_HOME\n      value: \"/models/hf-cache\"\n")
	fmt.Fprintf(&b, "  ports:\n    - name: http\n      containerPort: %d\n", c.Port)
	fmt.Fprintf(&b, "  resources:\n    limits:\n      nvidia.com/gpu: %d\n    requests:\n      nvidia.com/gpu: %d\n", c.GPUs, c.GPUs)
	b.WriteString("  volumeMounts:\n    - name: models\n      mountPath: /models\n    - name: dshm\n      mountPath: /dev/shm\n")
	return b.String()
}
