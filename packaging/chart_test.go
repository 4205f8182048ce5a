package packaging

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "helm/akidb"

// valuesFiles are the chart's values files, each rendered and served.
var valuesFiles = map[string][]string{
	"default":    nil,
	"production": {"-f", filepath.Join(chartDir, "values-production.yaml")},
	// The S3 tier over http, the credentials in values (the chart makes
	// their Secret), the bucket made by the server.
	"s3": {"--set", "s3.enabled=true,s3.endpoint=http://minio.storage.svc:9000,s3.bucket=akidb,s3.prefix=edge/one,s3.createBucket=true," +
		"s3.accessKey=chart-test,s3.secretKey=chart-test-secret-key,s3.shipInterval=2s"},
}

// rendered is one manifest of `helm template`, decoded into its API type.
type rendered struct {
	kind, name string
	obj        any
}

// renderChart runs helm template and decodes every manifest strictly: a
// field the API type does not have fails the test.
func renderChart(t *testing.T, args ...string) []rendered {
	t.Helper()
	helm := mustEnv(t, "AKIDB_HELM")
	cmd := exec.Command(helm, append([]string{"template", "db", chartDir, "--namespace", "vectors"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, stderr.String())
	}
	var objs []rendered
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(out), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("manifest is not YAML: %v\n%s", err, doc)
		}
		var obj any
		switch head.APIVersion + "/" + head.Kind {
		case "apps/v1/StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "v1/Service":
			obj = &corev1.Service{}
		case "v1/Secret":
			obj = &corev1.Secret{}
		case "networking.k8s.io/v1/Ingress":
			obj = &networkingv1.Ingress{}
		case "networking.k8s.io/v1/NetworkPolicy":
			obj = &networkingv1.NetworkPolicy{}
		case "policy/v1/PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "monitoring.coreos.com/v1/ServiceMonitor":
			obj = &monitoringv1.ServiceMonitor{}
		default:
			t.Fatalf("manifest of unexpected type %s/%s", head.APIVersion, head.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s %s does not decode strictly into its API type: %v\n%s", head.Kind, head.Metadata.Name, err, doc)
		}
		objs = append(objs, rendered{kind: head.Kind, name: head.Metadata.Name, obj: obj})
	}
	return objs
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func find[T any](objs []rendered) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestChartRendersStrictly: with both values files, every manifest decodes
// into the Kubernetes API types with no unknown field, and the objects
// fit together: one replica, ports and probes by existing names, Services
// and the budget selecting the pod, a locked-down pod.
func TestChartRendersStrictly(t *testing.T) {
	for name, args := range valuesFiles {
		t.Run(name, func(t *testing.T) {
			objs := renderChart(t, args...)
			sts := find[*appsv1.StatefulSet](objs)
			if len(sts) != 1 {
				t.Fatalf("%d StatefulSets", len(sts))
			}
			ss := sts[0]
			if ss.Spec.Replicas == nil || *ss.Spec.Replicas != 1 {
				t.Errorf("replicas %v, want exactly 1", ss.Spec.Replicas)
			}
			pod := ss.Spec.Template
			for k, v := range ss.Spec.Selector.MatchLabels {
				if pod.Labels[k] != v {
					t.Errorf("the selector's %s=%s is not on the pod", k, v)
				}
			}
			if len(pod.Spec.Containers) != 1 {
				t.Fatalf("%d containers", len(pod.Spec.Containers))
			}
			c := pod.Spec.Containers[0]
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			for probeName, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				if p == nil || p.HTTPGet == nil {
					t.Errorf("%s probe is not an HTTP probe: %+v", probeName, p)
					continue
				}
				if _, ok := ports[p.HTTPGet.Port.String()]; !ok {
					t.Errorf("%s probe port %q is not a container port (%v)", probeName, p.HTTPGet.Port.String(), ports)
				}
			}
			psc, sc := pod.Spec.SecurityContext, c.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
				t.Errorf("pod security context %+v: want non-root", psc)
			}
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
				t.Errorf("container security context %+v: want read-only root, no privilege escalation, no capabilities", sc)
			}
			if c.Resources.Limits.Memory().IsZero() || !hasEnv(c, "GOMEMLIMIT") {
				t.Errorf("no memory limit or GOMEMLIMIT: %+v %v", c.Resources, c.Env)
			}
			if len(ss.Spec.VolumeClaimTemplates) != 1 || ss.Spec.VolumeClaimTemplates[0].Name != "data" {
				t.Errorf("volume claim templates %+v", ss.Spec.VolumeClaimTemplates)
			}
			svcs := find[*corev1.Service](objs)
			if len(svcs) != 2 {
				t.Errorf("%d Services, want the client and the headless one", len(svcs))
			}
			headless := false
			for _, s := range svcs {
				for k, v := range s.Spec.Selector {
					if pod.Labels[k] != v {
						t.Errorf("Service %s selects %s=%s, not on the pod", s.Name, k, v)
					}
				}
				for _, p := range s.Spec.Ports {
					if _, ok := ports[p.TargetPort.String()]; !ok {
						t.Errorf("Service %s targets port %q, not a container port", s.Name, p.TargetPort.String())
					}
				}
				if s.Spec.ClusterIP == "None" {
					headless = true
					if s.Name != ss.Spec.ServiceName {
						t.Errorf("headless Service %s, the StatefulSet names %s", s.Name, ss.Spec.ServiceName)
					}
				}
			}
			if !headless {
				t.Error("no headless Service")
			}
			if pdbs := find[*policyv1.PodDisruptionBudget](objs); len(pdbs) != 1 {
				t.Errorf("%d PodDisruptionBudgets", len(pdbs))
			}
			if nps := find[*networkingv1.NetworkPolicy](objs); len(nps) != 1 {
				t.Errorf("%d NetworkPolicies", len(nps))
			}
			if name == "production" {
				if len(find[*networkingv1.Ingress](objs)) != 1 || len(find[*monitoringv1.ServiceMonitor](objs)) != 1 {
					t.Error("production values: want an Ingress and a ServiceMonitor")
				}
				if c.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS {
					t.Errorf("production values serve TLS, the probes use %s", c.ReadinessProbe.HTTPGet.Scheme)
				}
			}
		})
	}
}

func hasEnv(c corev1.Container, name string) bool {
	for _, e := range c.Env {
		if e.Name == name {
			return true
		}
	}
	return false
}

// TestChartServesItsProbes runs the real server with the container's own
// arguments and environment, for each values file: the Secrets the pod
// mounts are written where it mounts them (the chart's own, or stand-ins
// for the existing Secrets production values name: a throwaway TLS
// certificate, a generated key), every AKIDB_* variable must be a flag of
// `akidb serve`, the listen ports must be the container ports the probes
// name, and each probe's path must answer 200 on that port, over the
// probe's scheme. The bootstrap key from the Secret then authenticates.
func TestChartServesItsProbes(t *testing.T) {
	b := binary{path: mustEnv(t, "AKIDB_BIN")}
	flags := serveFlags(t, b)
	for name, args := range valuesFiles {
		t.Run(name, func(t *testing.T) {
			objs := renderChart(t, args...)
			ss := find[*appsv1.StatefulSet](objs)[0]
			c := ss.Spec.Template.Spec.Containers[0]
			secrets := map[string]map[string][]byte{}
			for _, s := range find[*corev1.Secret](objs) {
				secrets[s.Name] = secretData(s)
			}
			// The environment, from the chart's values and Secrets (stand-ins
			// for the existing Secrets production values name).
			env := baseEnv()
			envVals := map[string]string{}
			for _, e := range c.Env {
				checkEnvName(t, e.Name, flags)
				val := e.Value
				if r := e.ValueFrom; r != nil {
					if r.SecretKeyRef == nil {
						t.Fatalf("env %s: only secretKeyRef is expected", e.Name)
					}
					data, ok := secrets[r.SecretKeyRef.Name]
					if !ok {
						data = map[string][]byte{r.SecretKeyRef.Key: []byte("stand-in-" + r.SecretKeyRef.Key)}
					}
					val = string(data[r.SecretKeyRef.Key])
				}
				env = append(env, e.Name+"="+val)
				envVals[e.Name] = val
			}
			// The S3 tier: a real MinIO, with the credentials the pod gets,
			// on https if the chart's endpoint is.
			var store *minioServer
			if ep, ok := argValue(c.Args, "--s3-endpoint"); ok {
				if envVals["AKIDB_S3_ACCESS_KEY"] == "" || envVals["AKIDB_S3_SECRET_KEY"] == "" {
					t.Fatalf("the tier is on, but the pod gets no AKIDB_S3_ACCESS_KEY and AKIDB_S3_SECRET_KEY: %v", c.Env)
				}
				store = startMinIO(t, b, strings.HasPrefix(ep, "https://"), envVals["AKIDB_S3_ACCESS_KEY"], envVals["AKIDB_S3_SECRET_KEY"])
			}
			root := t.TempDir()
			// Mounts: each becomes a folder under root.
			mounts := map[string]string{}
			volumes := map[string]corev1.Volume{}
			for _, v := range ss.Spec.Template.Spec.Volumes {
				volumes[v.Name] = v
			}
			for _, m := range c.VolumeMounts {
				dir := filepath.Join(root, m.Name)
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				mounts[m.MountPath] = dir
				v, ok := volumes[m.Name]
				switch {
				case m.Name == "data": // the volume claim template
				case !ok:
					t.Fatalf("mount %s has no volume", m.Name)
				case v.Secret != nil:
					data, ok := secrets[v.Secret.SecretName]
					if !ok {
						data = standIn(t, b, m.Name, store)
					}
					for k, val := range data {
						if err := os.WriteFile(filepath.Join(dir, k), val, 0o400); err != nil {
							t.Fatal(err)
						}
					}
				case v.EmptyDir != nil:
				default:
					t.Fatalf("volume %s of an unexpected kind", m.Name)
				}
			}
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			// Arguments: the same, with mount paths moved under root and the
			// listeners on loopback ports the kernel picks.
			var argv []string
			listens := map[string]int32{}
			for _, a := range append(c.Command, c.Args...) {
				// One substitution per argument (the temporary folders are
				// themselves under /tmp, a mount path too).
				if name, val, ok := strings.Cut(a, "="); ok {
					for mp, dir := range mounts {
						if val == mp {
							a = name + "=" + dir
							break
						}
						if rest, ok := strings.CutPrefix(val, mp+"/"); ok {
							a = name + "=" + filepath.Join(dir, rest)
							break
						}
					}
				}
				if _, ok := strings.CutPrefix(a, "--s3-endpoint="); ok {
					a = "--s3-endpoint=" + store.endpoint
				}
				for _, l := range []string{"--rest-addr=", "--grpc-addr="} {
					if addr, ok := strings.CutPrefix(a, l); ok {
						var port int32
						if _, err := fmt.Sscanf(addr[strings.LastIndex(addr, ":")+1:], "%d", &port); err != nil {
							t.Fatalf("%s: %v", a, err)
						}
						listens[l] = port
						a = l + "127.0.0.1:0"
					}
				}
				if f, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "="); strings.HasPrefix(a, "--") && !flags[f] {
					t.Errorf("argument %s: akidb serve has no --%s", a, f)
				}
				argv = append(argv, a)
			}
			// The server refuses plaintext off loopback unless told; the pod
			// listens on every interface.
			if !contains(argv, "--allow-plaintext") && !containsPrefix(argv, "--tls-cert=") {
				t.Errorf("the pod serves plaintext on 0.0.0.0 without --allow-plaintext: it would not start (%v)", argv)
			}
			if listens["--rest-addr="] != ports["http"] || listens["--grpc-addr="] != ports["grpc"] {
				t.Fatalf("the server listens on %v, the container ports are %v", listens, ports)
			}
			// The operator makes the bucket before the install (or lets the
			// server: s3.createBucket); here MinIO starts empty.
			if store != nil && !contains(argv, "--s3-create-bucket") {
				argv = append(argv, "--s3-create-bucket")
			}
			s := startServer(t, b, env, argv...)
			base := s.rest
			for probeName, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				scheme := strings.ToLower(string(p.HTTPGet.Scheme))
				if scheme == "" {
					scheme = "http"
				}
				if !strings.HasPrefix(base, scheme+"://") {
					t.Errorf("%s probe uses %s, the server serves %s", probeName, scheme, base)
				}
				if port := ports[p.HTTPGet.Port.String()]; port != listens["--rest-addr="] {
					t.Errorf("%s probe asks port %d, REST is on %d", probeName, port, listens["--rest-addr="])
				}
				waitStatus(t, s, base+p.HTTPGet.Path, 200)
			}
			// The key the pod was given is the admin key.
			key := bootstrapKey(t, mounts, argv)
			if code, body := call(t, "GET", base+"/api/v1/collections", key, ""); code != 200 {
				t.Errorf("the bootstrap key from the Secret: %d %s", code, body)
			}
			if store != nil {
				checkShipping(t, s, base, key, c.Args)
			}
			s.stop()
		})
	}
}

// standIn makes the contents of an existing Secret that production values
// name (the operator creates them): a TLS pair, a bootstrap key, a JWT
// secret, the CA of the object store's certificate.
func standIn(t *testing.T, b binary, volume string, store *minioServer) map[string][]byte {
	t.Helper()
	switch volume {
	case "s3-ca":
		if store == nil || store.caPEM == nil {
			t.Fatal("the chart mounts an S3 CA without an https S3 endpoint")
		}
		return map[string][]byte{"ca.crt": store.caPEM}
	case "tls":
		dir := t.TempDir()
		b.run(t, baseEnv(), "certs", "dev", "--out", filepath.Join(dir, "certs"))
		crt, err := os.ReadFile(filepath.Join(dir, "certs", "server.crt"))
		if err != nil {
			t.Fatal(err)
		}
		key, err := os.ReadFile(filepath.Join(dir, "certs", "server.key"))
		if err != nil {
			t.Fatal(err)
		}
		return map[string][]byte{"tls.crt": crt, "tls.key": key}
	case "bootstrap":
		return map[string][]byte{"bootstrap-admin.key": []byte(b.run(t, baseEnv(), "keys", "generate"))}
	case "jwt":
		secret := make([]byte, 48)
		if _, err := rand.Read(secret); err != nil {
			t.Fatal(err)
		}
		return map[string][]byte{"jwt.key": []byte(base64.StdEncoding.EncodeToString(secret))}
	}
	t.Fatalf("no stand-in for the Secret mounted as %s", volume)
	return nil
}

func containsPrefix(s []string, prefix string) bool {
	for _, x := range s {
		if strings.HasPrefix(x, prefix) {
			return true
		}
	}
	return false
}

func secretData(s *corev1.Secret) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range s.Data {
		out[k] = v
	}
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	return out
}

func bootstrapKey(t *testing.T, mounts map[string]string, argv []string) string {
	t.Helper()
	for _, a := range argv {
		if f, ok := strings.CutPrefix(a, "--bootstrap-admin-key-file="); ok {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("the chart passes no --bootstrap-admin-key-file: %v", argv)
	return ""
}

// serveFlags lists the long flags of `akidb serve` (its own and the
// global ones) from its help.
func serveFlags(t *testing.T, b binary) map[string]bool {
	t.Helper()
	help := b.run(t, baseEnv(), "serve", "--help")
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9-]+)`).FindAllStringSubmatch(help, -1) {
		flags[m[1]] = true
	}
	if !flags["data-dir"] || !flags["log-level"] {
		t.Fatalf("could not read the flags of akidb serve --help:\n%s", help)
	}
	return flags
}

// envNotFlags are the variables akidb reads that are not AKIDB_<FLAG>:
// secrets, which are never flags (a flag shows in the process list).
var envNotFlags = map[string]bool{"GOMEMLIMIT": true, "AKIDB_JWT_SECRET": true, "AKIDB_S3_ACCESS_KEY": true, "AKIDB_S3_SECRET_KEY": true}

// checkEnvName fails unless name is a variable akidb serve reads.
func checkEnvName(t *testing.T, name string, flags map[string]bool) {
	t.Helper()
	if envNotFlags[name] {
		return
	}
	flag, ok := strings.CutPrefix(name, "AKIDB_")
	flag = strings.ToLower(strings.ReplaceAll(flag, "_", "-"))
	if !ok || !flags[flag] {
		t.Errorf("environment variable %s is not read by akidb serve (no --%s)", name, flag)
	}
}

// argValue finds --name=value in args.
func argValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// checkShipping: the server the chart configured ships to the object
// store. A collection created without a policy gets the chart's
// (s3.tierPolicy), a checkpoint queues its upload, and the storage status
// shows the store with the chart's bucket and prefix, the breaker closed,
// and everything acknowledged shipped.
func checkShipping(t *testing.T, s *server, base, key string, args []string) {
	t.Helper()
	bucket, _ := argValue(args, "--s3-bucket")
	prefix, _ := argValue(args, "--s3-prefix")
	policy, _ := argValue(args, "--tier-policy")
	code, body := call(t, "POST", base+"/api/v1/collections", key, `{"name":"shipped","dimension":3}`)
	if code != 201 || !strings.Contains(body, `"tier_policy":"`+policy+`"`) {
		t.Fatalf("create a collection: %d %s (want the chart's policy %q)", code, body, policy)
	}
	if code, body := call(t, "POST", base+"/api/v1/collections/shipped/insert", key,
		`{"vectors":[{"id":"a","vector":[1,0,0]},{"id":"b","vector":[0,1,0]}]}`); code != 200 {
		t.Fatalf("insert: %d %s", code, body)
	}
	if code, body := call(t, "POST", base+"/admin/collections/shipped/checkpoint", key, ""); code != 200 || !strings.Contains(body, `"upload_queued":true`) {
		t.Fatalf("checkpoint: %d %s", code, body)
	}
	type status struct {
		Enabled bool `json:"enabled"`
		Store   *struct {
			Name           string `json:"name"`
			Prefix         string `json:"prefix"`
			CircuitBreaker struct {
				State     string `json:"state"`
				LastError string `json:"last_error"`
			} `json:"circuit_breaker"`
		} `json:"store"`
		Collections []struct {
			Name           string          `json:"name"`
			DurableSeq     uint64          `json:"durable_seq"`
			ShippedSeq     uint64          `json:"shipped_seq"`
			NewestSnapshot json.RawMessage `json:"newest_snapshot"`
		} `json:"collections"`
	}
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var st status
	var last string
	for {
		code, body := call(t, "GET", base+"/admin/storage/status", key, "")
		last = fmt.Sprintf("%d %s", code, body)
		st = status{}
		if code == 200 && json.Unmarshal([]byte(body), &st) == nil && len(st.Collections) == 1 {
			c := st.Collections[0]
			if c.ShippedSeq == c.DurableSeq && c.DurableSeq > 0 && len(c.NewestSnapshot) > 0 && string(c.NewestSnapshot) != "null" {
				break
			}
		}
		select {
		case <-deadline.C:
			t.Fatalf("not shipped after %v: %s\n%s", waitTimeout, last, s.output())
		case err := <-s.done:
			t.Fatalf("akidb serve exited (%v) while shipping:\n%s", err, s.output())
		case <-tick.C: // ask again
		}
	}
	if !st.Enabled || st.Store == nil || st.Store.Name != "s3://"+bucket || st.Store.Prefix != prefix || st.Store.CircuitBreaker.State != "closed" {
		t.Fatalf("storage status: %s", last)
	}
}

// TestChartRefusesIncompleteS3Settings: S3 values that could not work fail
// the install with the reason, instead of a pod that cannot start.
func TestChartRefusesIncompleteS3Settings(t *testing.T) {
	helm := mustEnv(t, "AKIDB_HELM")
	for set, want := range map[string]string{
		"s3.enabled=true,s3.bucket=b,s3.existingSecret=x":                                          "s3.enabled needs s3.endpoint and s3.bucket",
		"s3.enabled=true,s3.endpoint=http://m:9000,s3.existingSecret=x":                            "s3.enabled needs s3.endpoint and s3.bucket",
		"s3.enabled=true,s3.endpoint=http://m:9000,s3.bucket=b":                                    "s3.existingSecret, or s3.accessKey and s3.secretKey",
		"s3.enabled=true,s3.endpoint=http://m:9000,s3.bucket=b,s3.existingSecret=x,s3.caSecret=ca": "s3.caSecret needs an https:// s3.endpoint",
	} {
		out, err := exec.Command(helm, "template", "db", chartDir, "--set", set).CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("--set %s: %v, want a failure saying %q:\n%s", set, err, want, out)
		}
	}
}
