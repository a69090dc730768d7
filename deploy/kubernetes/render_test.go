// Package kubernetes holds the tests of unionportal's Kubernetes manifests (base/ and
// overlays/) and Prometheus rules (../prometheus/). It is a Go module of its own, so that
// the portal's module gains no Kubernetes or Prometheus dependency. Nothing here talks to
// a cluster: the overlay is rendered with the kustomize library, every object is decoded
// strictly into the k8s.io/api types, and the policy the manifests promise is checked.
package kubernetes

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	kjson "sigs.k8s.io/json"
)

// overlay is the overlay a production installation starts from.
const overlay = "overlays/production"

// kinds maps each apiVersion/kind the manifests may contain to its Go type. An object of
// any other kind fails the test: a new kind needs its type here first.
var kinds = map[string]reflect.Type{
	"v1/ConfigMap":                           reflect.TypeFor[corev1.ConfigMap](),
	"v1/Secret":                              reflect.TypeFor[corev1.Secret](),
	"v1/Service":                             reflect.TypeFor[corev1.Service](),
	"v1/Namespace":                           reflect.TypeFor[corev1.Namespace](),
	"apps/v1/Deployment":                     reflect.TypeFor[appsv1.Deployment](),
	"networking.k8s.io/v1/Ingress":           reflect.TypeFor[networkingv1.Ingress](),
	"policy/v1/PodDisruptionBudget":          reflect.TypeFor[policyv1.PodDisruptionBudget](),
	"autoscaling/v2/HorizontalPodAutoscaler": reflect.TypeFor[autoscalingv2.HorizontalPodAutoscaler](),
}

// object is one rendered manifest: its identity and its decoded, typed value.
type object struct {
	Kind, Name string
	Value      any
}

// manifests is what the overlay renders to, sorted by kind.
type manifests struct {
	Objects     []object
	Deployments []*appsv1.Deployment
	Services    []*corev1.Service
	ConfigMaps  []*corev1.ConfigMap
	Ingresses   []*networkingv1.Ingress
	PDBs        []*policyv1.PodDisruptionBudget
	HPAs        []*autoscalingv2.HorizontalPodAutoscaler
	Namespaces  []*corev1.Namespace
}

// sourceFS loads base/ and overlays/ into an in-memory file system, with edit applied to
// each file's text (nil: none), so that a test can render a mutated copy.
func sourceFS(t *testing.T, edit func(path, text string) string) filesys.FileSystem {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	for _, dir := range []string{"base", "overlays"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			text := string(b)
			if edit != nil {
				text = edit(filepath.ToSlash(path), text)
			}
			return mem.WriteFile(filepath.ToSlash(path), []byte(text))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return mem
}

// render builds the overlay from fsys with the kustomize library (what `kubectl apply -k`
// runs) and decodes every object strictly.
func render(fsys filesys.FileSystem, dir string) (*manifests, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize: %w", err)
	}
	m := &manifests{}
	for _, r := range resMap.Resources() {
		j, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		o, err := decodeStrict(j)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.GetKind(), r.GetName(), err)
		}
		m.add(o)
	}
	return m, nil
}

// decodeStrict decodes one object's JSON into its k8s.io/api type, refusing unknown
// fields, fields in the wrong case and duplicate fields (sigs.k8s.io/json, the decoder
// the API server uses for its own strict field validation).
func decodeStrict(j []byte) (object, error) {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(j, &meta); err != nil {
		return object{}, err
	}
	typ, ok := kinds[meta.APIVersion+"/"+meta.Kind]
	if !ok {
		return object{}, fmt.Errorf("no Go type known for %s %s (add it to kinds)", meta.APIVersion, meta.Kind)
	}
	v := reflect.New(typ).Interface()
	strict, err := kjson.UnmarshalStrict(j, v)
	if err != nil {
		return object{}, err
	}
	if len(strict) > 0 {
		msgs := make([]string, len(strict))
		for i, e := range strict {
			msgs[i] = e.Error()
		}
		return object{}, fmt.Errorf("strict decoding: %s", strings.Join(msgs, "; "))
	}
	return object{Kind: meta.Kind, Name: meta.Metadata.Name, Value: v}, nil
}

func (m *manifests) add(o object) {
	m.Objects = append(m.Objects, o)
	switch v := o.Value.(type) {
	case *appsv1.Deployment:
		m.Deployments = append(m.Deployments, v)
	case *corev1.Service:
		m.Services = append(m.Services, v)
	case *corev1.ConfigMap:
		m.ConfigMaps = append(m.ConfigMaps, v)
	case *networkingv1.Ingress:
		m.Ingresses = append(m.Ingresses, v)
	case *policyv1.PodDisruptionBudget:
		m.PDBs = append(m.PDBs, v)
	case *autoscalingv2.HorizontalPodAutoscaler:
		m.HPAs = append(m.HPAs, v)
	case *corev1.Namespace:
		m.Namespaces = append(m.Namespaces, v)
	}
}

// secretTemplate decodes base/secret.example.yaml, which is not part of the
// kustomization (see its comment), as strictly as the rendered objects.
func secretTemplate(t *testing.T, text string) *corev1.Secret {
	t.Helper()
	j, err := yaml.YAMLToJSONStrict([]byte(text))
	if err != nil {
		t.Fatalf("base/secret.example.yaml: %v", err)
	}
	o, err := decodeStrict(j)
	if err != nil {
		t.Fatalf("base/secret.example.yaml: %v", err)
	}
	s, ok := o.Value.(*corev1.Secret)
	if !ok {
		t.Fatalf("base/secret.example.yaml holds a %s, not a Secret", o.Kind)
	}
	return s
}

func mustRender(t *testing.T, dir string) *manifests {
	t.Helper()
	m, err := render(sourceFS(t, nil), dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRenderStrict renders the base and the production overlay and expects every object
// to decode strictly, and the overlay to hold every kind of object the portal needs.
func TestRenderStrict(t *testing.T) {
	for _, dir := range []string{"base", overlay} {
		t.Run(dir, func(t *testing.T) {
			m := mustRender(t, dir)
			count := map[string]int{}
			for _, o := range m.Objects {
				count[o.Kind]++
			}
			want := map[string]int{"Deployment": 2, "Service": 1, "ConfigMap": 1, "Ingress": 1,
				"PodDisruptionBudget": 1, "HorizontalPodAutoscaler": 1}
			if dir == overlay {
				want["Namespace"] = 1
			}
			if !reflect.DeepEqual(count, want) {
				t.Errorf("rendered %v, want %v", count, want)
			}
		})
	}
}

// TestOverlayValues checks that the overlay does change what an installation must change.
func TestOverlayValues(t *testing.T) {
	m := mustRender(t, overlay)
	for _, o := range m.Objects {
		if o.Kind == "Namespace" {
			continue
		}
		ns := reflect.ValueOf(o.Value).Elem().FieldByName("Namespace").String()
		if ns != "unionportal" {
			t.Errorf("%s %s: namespace %q, want unionportal", o.Kind, o.Name, ns)
		}
	}
	for _, d := range m.Deployments {
		for _, c := range allContainers(&d.Spec.Template.Spec) {
			if c.Image != "registry.federation.example/unionportal:1.0.0" {
				t.Errorf("%s/%s: image %q, want the overlay's", d.Name, c.Name, c.Image)
			}
		}
	}
	if w := deployment(m, "unionportal-worker"); w == nil || w.Spec.Replicas == nil || *w.Spec.Replicas != 2 {
		t.Errorf("worker replicas not set to 2 by the overlay")
	}
	if s := deployment(m, "unionportal-serve"); s == nil || s.Spec.Replicas != nil {
		t.Errorf("serve must leave replicas to its HorizontalPodAutoscaler")
	}
	if len(m.HPAs) != 1 || m.HPAs[0].Spec.MinReplicas == nil || *m.HPAs[0].Spec.MinReplicas != 3 || m.HPAs[0].Spec.MaxReplicas != 8 {
		t.Errorf("HorizontalPodAutoscaler: overlay's 3..8 replicas not applied")
	}
	if len(m.Ingresses) != 1 || m.Ingresses[0].Spec.Rules[0].Host != "portal.federation.example" ||
		len(m.Ingresses[0].Spec.TLS) != 1 || m.Ingresses[0].Spec.TLS[0].Hosts[0] != "portal.federation.example" {
		t.Errorf("Ingress: the overlay's host is not the rule's and the TLS certificate's")
	}
	if len(m.Ingresses) == 1 && m.Ingresses[0].Annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "" {
		t.Errorf("Ingress: the overlay lost the base's body size annotation")
	}
	cm := m.ConfigMaps[0].Data
	if cm["UNIONPORTAL_BASE_URL"] != "https://portal.federation.example" || cm["UNIONPORTAL_STORAGE"] != "s3" {
		t.Errorf("ConfigMap: overlay and base values not merged: %v", cm)
	}
	if serve := deployment(m, "unionportal-serve"); serve != nil {
		lim := serve.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]
		if lim.String() != "1Gi" {
			t.Errorf("serve memory limit %s, want the overlay's 1Gi", lim.String())
		}
	}
}

func deployment(m *manifests, name string) *appsv1.Deployment {
	for _, d := range m.Deployments {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func allContainers(spec *corev1.PodSpec) []*corev1.Container {
	var out []*corev1.Container
	for i := range spec.InitContainers {
		out = append(out, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	return out
}

// TestStrictDecodingCatchesMistakes renders mutated copies and expects each mistake to
// be refused: the proof that a misspelled field cannot pass unnoticed.
func TestStrictDecodingCatchesMistakes(t *testing.T) {
	cases := []struct {
		name, file, old, new, want string
	}{
		{"misspelled field", "base/serve.yaml", "readinessProbe:", "readinesProbe:", `unknown field "spec.template.spec.containers[0].readinesProbe"`},
		{"field in the wrong case", "base/worker.yaml", "readOnlyRootFilesystem:", "readOnlyRootFileSystem:", `unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"`},
		{"misspelled field in an overlay patch", "overlays/production/hpa.yaml", "maxReplicas:", "maxReplica:", `unknown field "spec.maxReplica"`},
		{"wrong type", "base/pdb.yaml", "minAvailable: 1", "minAvailable: [1]", "minAvailable"},
		{"unknown kind", "base/service.yaml", "kind: Service", "kind: Servise", "no Go type known"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys := mutated(t, c.file, c.old, c.new)
			_, err := render(fsys, overlay)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// mutated is the sources with the first old in file replaced by new (a test fails when
// file does not hold old: the mutation would prove nothing).
func mutated(t *testing.T, file, old, new string) filesys.FileSystem {
	t.Helper()
	return sourceFS(t, func(path, text string) string {
		if path != file {
			return text
		}
		if !strings.Contains(text, old) {
			t.Fatalf("%s does not contain %q", path, old)
		}
		return strings.Replace(text, old, new, 1)
	})
}
