package sim

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pod is the part of a Kubernetes Pod the simulator keeps.
type Pod struct {
	metav1.ObjectMeta
	Workload  string // owning Deployment (or other controller) name
	Version   string // "version" label as Istio reports it, "unknown" when absent
	Container string // first container: the one cAdvisor metrics describe
	Image     string
	Running   bool
	Ready     bool
	Started   time.Time
	Behaviour Behaviour
	Problems  []string
}

// Serving reports whether a Service would send the pod traffic: Running,
// Ready and not terminating.
func (p *Pod) Serving() bool {
	return p.Running && p.Ready && p.DeletionTimestamp == nil
}

// NewPod keeps what the simulator needs from a Pod and parses its behaviour.
func NewPod(pod *corev1.Pod) *Pod {
	b, problems := ParseBehaviour(pod.Annotations)
	p := &Pod{
		ObjectMeta: slimMeta(pod.ObjectMeta),
		Workload:   workloadOf(pod),
		Version:    versionOf(pod.Labels),
		Running:    pod.Status.Phase == corev1.PodRunning,
		Behaviour:  b,
		Problems:   problems,
	}
	if len(pod.Spec.Containers) > 0 {
		p.Container, p.Image = pod.Spec.Containers[0].Name, pod.Spec.Containers[0].Image
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			p.Ready = c.Status == corev1.ConditionTrue
		}
	}
	p.Started = pod.CreationTimestamp.Time
	if pod.Status.StartTime != nil {
		p.Started = pod.Status.StartTime.Time
	}
	return p
}

// workloadOf names the Deployment behind a pod the way Istio's
// destination_workload does: the ReplicaSet owner minus its template hash.
func workloadOf(pod *corev1.Pod) string {
	for _, o := range pod.OwnerReferences {
		if o.Controller == nil || !*o.Controller {
			continue
		}
		if o.Kind != "ReplicaSet" {
			return o.Name
		}
		if h := pod.Labels["pod-template-hash"]; h != "" {
			return strings.TrimSuffix(o.Name, "-"+h)
		}
		if i := strings.LastIndex(o.Name, "-"); i > 0 {
			return o.Name[:i]
		}
		return o.Name
	}
	return pod.Name
}

func versionOf(labels map[string]string) string {
	for _, k := range []string{"version", "app.kubernetes.io/version"} {
		if v := labels[k]; v != "" {
			return v
		}
	}
	return "unknown"
}
