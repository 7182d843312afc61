package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"sigs.k8s.io/yaml"
)

// validOutput accepts the -o formats: table (empty), json and yaml.
func validOutput(o string) error {
	switch o {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("unknown output format %q (use json or yaml)", o)
}

// writeStructured prints v as indented JSON or as YAML.
func writeStructured(w io.Writer, format string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Check names such as "error-rate<=1%" stay readable.
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode %s: %w", format, err)
	}
	b := buf.Bytes()
	if format == "yaml" {
		var err error
		if b, err = yaml.JSONToYAML(b); err != nil {
			return fmt.Errorf("encode yaml: %w", err)
		}
	}
	_, err := w.Write(b)
	return err
}

// rolloutDocument is a rollout in -o json|yaml: the Deployment's identity, its
// template revision, the status annotation as rolloutd wrote it, and any pending
// command.
type rolloutDocument struct {
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Template  string            `json:"template"`
	Status    contract.Status   `json:"status"`
	Pending   *contract.Command `json:"pendingCommand,omitempty"`
}

func rolloutDoc(r rollout) rolloutDocument {
	doc := rolloutDocument{Namespace: r.d.Namespace, Name: r.d.Name, Template: r.template(), Status: r.st}
	if c, ok := contract.Decode(r.d.Annotations); ok {
		doc.Pending = &c
	}
	return doc
}

// rolloutDocs wraps a list as {"items": [...]}, as kubectl does.
func rolloutDocs(rs []rollout) map[string][]rolloutDocument {
	items := make([]rolloutDocument, 0, len(rs))
	for _, r := range rs {
		items = append(items, rolloutDoc(r))
	}
	return map[string][]rolloutDocument{"items": items}
}
