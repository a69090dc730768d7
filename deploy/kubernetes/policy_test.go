package kubernetes

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// noProbesAnnotation, on a pod template, says why its containers have no probes; only a
// pod whose containers listen on no port may carry it.
const noProbesAnnotation = "deploy.unionportal/no-probes"

// runtimeEnv are the variables outside the portal's settings that a container may set:
// the Go runtime's own.
var runtimeEnv = map[string]bool{"GOMEMLIMIT": true}

// settingRow matches a row of README.md's configuration table.
var settingRow = regexp.MustCompile("(?m)^\\| `(UNIONPORTAL_[A-Z0-9_]+)` \\|")

// portalSettings reads the names of the portal's settings from README.md's configuration
// table, which the portal's own tests keep complete (cmd/unionportal checks it against
// the settings it parses).
func portalSettings(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range settingRow.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = true
	}
	if len(out) < 20 || !out["UNIONPORTAL_DATABASE_URL"] {
		t.Fatalf("README.md's configuration table: found only %d settings; has its format changed?", len(out))
	}
	return out
}

// policy lists every way the rendered manifests break the rules the deployment promises;
// settings are the names of the portal's settings, secret is the Secret template.
func policy(m *manifests, settings map[string]bool, secret *corev1.Secret) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	secretKeys := map[string]bool{}
	for k := range secret.StringData {
		secretKeys[k] = true
	}
	for k := range secret.Data {
		secretKeys[k] = true
	}
	for k := range secretKeys {
		if !settings[k] {
			add("Secret template: key %s is not a setting of README.md's table", k)
		}
	}
	configMaps := map[string]*corev1.ConfigMap{}
	for _, cm := range m.ConfigMaps {
		configMaps[cm.Name] = cm
	}
	checkName := func(where, name string) {
		if !settings[name] && !runtimeEnv[name] {
			add("%s: %s is not a setting of README.md's configuration table", where, name)
		}
	}

	servePorts := map[string]int32{} // the serve pods' named ports
	for _, d := range m.Deployments {
		where := "Deployment " + d.Name
		tpl := d.Spec.Template
		sel, err := metav1LabelSelector(d.Spec.Selector)
		if err != nil || sel.Empty() {
			add("%s: no usable selector (%v)", where, err)
		} else if !sel.Matches(labels.Set(tpl.Labels)) {
			add("%s: selector %s does not match the pod template's labels %v", where, sel, tpl.Labels)
		}
		pod := tpl.Spec
		psc := pod.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			add("%s: the pod must set runAsNonRoot and a non-zero numeric runAsUser", where)
		}
		if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			add("%s: the pod must use the RuntimeDefault seccomp profile", where)
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			add("%s: the portal needs no Kubernetes API token: automountServiceAccountToken: false", where)
		}
		if pod.HostNetwork || pod.HostPID || pod.HostIPC {
			add("%s: host namespaces are not for the portal", where)
		}
		mountsTmp := map[string]bool{}
		for _, v := range pod.Volumes {
			if v.EmptyDir != nil {
				mountsTmp[v.Name] = true
			}
		}
		_, noProbes := tpl.Annotations[noProbesAnnotation]
		for _, c := range allContainers(&pod) {
			cw := where + " container " + c.Name
			sc := c.SecurityContext
			switch {
			case sc == nil:
				add("%s: no securityContext", cw)
			default:
				if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					add("%s: allowPrivilegeEscalation must be false", cw)
				}
				if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
					add("%s: readOnlyRootFilesystem must be true", cw)
				}
				if sc.Privileged != nil && *sc.Privileged {
					add("%s: privileged", cw)
				}
				if sc.Capabilities == nil || len(sc.Capabilities.Add) > 0 || !dropsAll(sc.Capabilities.Drop) {
					add("%s: capabilities must drop ALL and add none", cw)
				}
				if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
					add("%s: runs as root", cw)
				}
				if sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot {
					add("%s: runAsNonRoot false overrides the pod's", cw)
				}
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Limits[r]; !ok {
					add("%s: no %s limit", cw, r)
				}
				if _, ok := c.Resources.Requests[r]; !ok {
					add("%s: no %s request", cw, r)
				}
			}
			tmp := false
			for _, vm := range c.VolumeMounts {
				if vm.MountPath == "/tmp" && mountsTmp[vm.Name] {
					tmp = true
				}
			}
			if !tmp {
				add("%s: the root filesystem is read-only: mount an emptyDir at /tmp", cw)
			}
			isInit := false
			for _, ic := range pod.InitContainers {
				if ic.Name == c.Name {
					isInit = true
				}
			}
			switch {
			case isInit:
			case len(c.Ports) > 0:
				if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
					add("%s: serves HTTP, so needs a readiness probe on /readyz", cw)
				}
				if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
					add("%s: serves HTTP, so needs a liveness probe on /healthz", cw)
				}
				for _, p := range c.Ports {
					if p.Name != "" {
						servePorts[d.Name+"/"+p.Name] = p.ContainerPort
					}
					servePorts[fmt.Sprintf("%s/%d", d.Name, p.ContainerPort)] = p.ContainerPort
				}
			case c.ReadinessProbe == nil && c.LivenessProbe == nil && !noProbes:
				add("%s: no probes and no %s annotation saying why", cw, noProbesAnnotation)
			}
			if c.Image == "" || strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
				add("%s: image %q needs a fixed tag", cw, c.Image)
			}
			for _, e := range c.Env {
				checkName(cw+" env", e.Name)
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					ref := e.ValueFrom.SecretKeyRef
					if ref.Name != secret.Name || !secretKeys[ref.Key] {
						add("%s: env %s takes key %s of Secret %s, which the template does not define", cw, e.Name, ref.Key, ref.Name)
					}
					if ref.Optional != nil && *ref.Optional {
						add("%s: env %s: a secret is never optional", cw, e.Name)
					}
				}
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					ref := e.ValueFrom.ConfigMapKeyRef
					if cm := configMaps[ref.Name]; cm == nil || cm.Data[ref.Key] == "" && ref.Key != "" {
						add("%s: env %s takes key %s of ConfigMap %s, which is not rendered", cw, e.Name, ref.Key, ref.Name)
					}
				}
			}
			for _, ef := range c.EnvFrom {
				switch {
				case ef.ConfigMapRef != nil:
					cm := configMaps[ef.ConfigMapRef.Name]
					if cm == nil {
						add("%s: envFrom ConfigMap %s is not rendered", cw, ef.ConfigMapRef.Name)
						continue
					}
					for k := range cm.Data {
						checkName(cw+" envFrom ConfigMap "+cm.Name, ef.Prefix+k)
					}
				case ef.SecretRef != nil:
					if ef.SecretRef.Name != secret.Name {
						add("%s: envFrom Secret %s is not the template's", cw, ef.SecretRef.Name)
					}
					for k := range secretKeys {
						checkName(cw+" envFrom Secret", ef.Prefix+k)
					}
				}
			}
		}
	}

	for _, s := range m.Services {
		where := "Service " + s.Name
		var target *corev1.PodTemplateSpec
		var targetName string
		for _, d := range m.Deployments {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				if target != nil {
					add("%s: selects the pods of more than one Deployment", where)
				}
				target, targetName = &d.Spec.Template, d.Name
			}
		}
		if target == nil {
			add("%s: selects no Deployment's pods", where)
			continue
		}
		for _, p := range s.Spec.Ports {
			key := targetName + "/" + p.TargetPort.String()
			if p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal == 0 {
				key = fmt.Sprintf("%s/%d", targetName, p.Port)
			}
			if _, ok := servePorts[key]; !ok {
				add("%s: port %s targets %s, which no probed container of %s declares", where, p.Name, p.TargetPort.String(), targetName)
			}
		}
	}
	for _, ing := range m.Ingresses {
		where := "Ingress " + ing.Name
		hosts := map[string]bool{}
		for _, tls := range ing.Spec.TLS {
			for _, h := range tls.Hosts {
				hosts[h] = tls.SecretName != ""
			}
		}
		for _, r := range ing.Spec.Rules {
			if !hosts[r.Host] {
				add("%s: host %q has no TLS certificate", where, r.Host)
			}
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				b := p.Backend.Service
				if b == nil || !hasServicePort(m, b.Name, b.Port.Name, b.Port.Number) {
					add("%s: path %s goes to a Service or port that is not rendered", where, p.Path)
				}
			}
		}
	}
	for _, pdb := range m.PDBs {
		sel, err := metav1LabelSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !selectsADeployment(m, sel) {
			add("PodDisruptionBudget %s: selects no Deployment's pods", pdb.Name)
		}
	}
	for _, hpa := range m.HPAs {
		ref := hpa.Spec.ScaleTargetRef
		d := deployment(m, ref.Name)
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || d == nil {
			add("HorizontalPodAutoscaler %s: targets %s %s %s, which is not rendered", hpa.Name, ref.APIVersion, ref.Kind, ref.Name)
			continue
		}
		if d.Spec.Replicas != nil {
			add("HorizontalPodAutoscaler %s: Deployment %s sets replicas, which every apply would reset", hpa.Name, d.Name)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
				add("HorizontalPodAutoscaler %s: container %s has no CPU request to measure utilisation against", hpa.Name, c.Name)
			}
		}
	}
	sort.Strings(problems)
	return problems
}

func metav1LabelSelector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Nothing(), nil
	}
	return metav1.LabelSelectorAsSelector(s)
}

func dropsAll(caps []corev1.Capability) bool {
	for _, c := range caps {
		if c == "ALL" {
			return true
		}
	}
	return false
}

func hasServicePort(m *manifests, name, portName string, number int32) bool {
	for _, s := range m.Services {
		if s.Name != name {
			continue
		}
		for _, p := range s.Spec.Ports {
			if (portName != "" && p.Name == portName) || (portName == "" && p.Port == number) {
				return true
			}
		}
	}
	return false
}

func selectsADeployment(m *manifests, sel labels.Selector) bool {
	for _, d := range m.Deployments {
		if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			return true
		}
	}
	return false
}

func secretFile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("base/secret.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPolicy checks the rendered production overlay against the policy.
func TestPolicy(t *testing.T) {
	m := mustRender(t, overlay)
	for _, p := range policy(m, portalSettings(t), secretTemplate(t, secretFile(t))) {
		t.Error(p)
	}
}

// TestPolicyCatchesViolations breaks one rule at a time in a copy and expects the policy
// to name it.
func TestPolicyCatchesViolations(t *testing.T) {
	settings := portalSettings(t)
	cases := []struct {
		name, file, old, new, want string
	}{
		{"root user", "base/worker.yaml", "runAsUser: 65532", "runAsUser: 0", "Deployment unionportal-worker: the pod must set runAsNonRoot"},
		{"privilege escalation", "base/serve.yaml", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "container migrate: allowPrivilegeEscalation must be false"},
		{"writable root", "base/worker.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "container worker: readOnlyRootFilesystem must be true"},
		{"selector mismatch", "base/worker.yaml", "        app.kubernetes.io/component: worker\n    spec:", "        app.kubernetes.io/component: wrker\n    spec:", "Deployment unionportal-worker: selector"},
		{"PDB selects nothing", "base/pdb.yaml", "component: serve", "component: web", "PodDisruptionBudget unionportal-serve: selects no Deployment's pods"},
		{"HPA targets nothing", "base/hpa.yaml", "name: unionportal-serve\n  minReplicas", "name: unionportal-web\n  minReplicas", "HorizontalPodAutoscaler unionportal-serve: targets apps/v1 Deployment unionportal-web"},
		{"Service port", "base/service.yaml", "targetPort: http", "targetPort: web", "Service unionportal: port http targets web"},
		{"unknown setting", "overlays/production/config.yaml", "UNIONPORTAL_S3_REGION:", "UNIONPORTAL_S3_REGON:", "UNIONPORTAL_S3_REGON is not a setting"},
		{"variable without the prefix", "base/worker.yaml", "- name: GOMEMLIMIT", "- name: GOGC", "GOGC is not a setting"},
		{"secret key missing from the template", "base/serve.yaml", "key: UNIONPORTAL_SMTP_URL}", "key: SMTP_URL}", "takes key SMTP_URL of Secret unionportal, which the template does not define"},
		{"worker without probes or a reason", "base/worker.yaml", "          livenessProbe:\n            exec:\n              command: [\"/usr/local/bin/unionportal\", \"healthcheck\", \"--database\", \"--timeout\", \"5s\"]\n            periodSeconds: 30\n            timeoutSeconds: 10\n            failureThreshold: 3\n", "", "container worker: no probes and no deploy.unionportal/no-probes annotation"},
		{"no TLS", "overlays/production/ingress.yaml", "    - hosts: [portal.federation.example]", "    - hosts: [other.federation.example]", `host "portal.federation.example" has no TLS certificate`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys := mutated(t, c.file, c.old, c.new)
			m, err := render(fsys, overlay)
			if err != nil {
				t.Fatal(err)
			}
			problems := policy(m, settings, secretTemplate(t, secretFile(t)))
			for _, p := range problems {
				if strings.Contains(p, c.want) {
					return
				}
			}
			t.Fatalf("no problem contains %q; got %q", c.want, problems)
		})
	}
	// Mistakes that no single line of a file makes (an overlay patch merges with the
	// base), made on the rendered objects instead.
	edits := []struct {
		name string
		edit func(m *manifests)
		want string
	}{
		{"no readiness probe", func(m *manifests) {
			deployment(m, "unionportal-serve").Spec.Template.Spec.Containers[0].ReadinessProbe = nil
		}, "container serve: serves HTTP, so needs a readiness probe on /readyz"},
		{"no memory limit", func(m *manifests) {
			delete(deployment(m, "unionportal-worker").Spec.Template.Spec.Containers[0].Resources.Limits, corev1.ResourceMemory)
		}, "container worker: no memory limit"},
		{"no /tmp", func(m *manifests) {
			deployment(m, "unionportal-serve").Spec.Template.Spec.InitContainers[0].VolumeMounts = nil
		}, "container migrate: the root filesystem is read-only: mount an emptyDir at /tmp"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			m := mustRender(t, overlay)
			e.edit(m)
			if p := policy(m, settings, secretTemplate(t, secretFile(t))); !strings.Contains(strings.Join(p, "\n"), e.want) {
				t.Fatalf("got %q, want %q", p, e.want)
			}
		})
	}
}
