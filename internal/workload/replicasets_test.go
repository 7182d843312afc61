package workload

import (
	"testing"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestSlimReplicaSetKeepsHashRevisionNumberAndIdentity(t *testing.T) {
	d := deployment()
	rs := replicaSetOf(d, "web-6d4cf56db6", "3")
	out, err := SlimReplicaSet(rs)
	require.NoError(t, err)
	slim, ok := out.(*appsv1.ReplicaSet)
	require.True(t, ok)

	assert.Equal(t, map[string]string{
		contract.TemplateHashAnnotation: Revision(d.Spec.Template),
		RevisionNumberAnnotation:        "3",
	}, slim.Annotations)
	assert.Equal(t, int64(3), RevisionNumber(slim))
	assert.Empty(t, slim.Spec.Template.Spec.Containers, "the template is dropped")
	assert.Nil(t, slim.Labels)
	assert.Equal(t, rs.Name, slim.Name)
	assert.Equal(t, rs.Namespace, slim.Namespace)
	assert.Equal(t, rs.UID, slim.UID)
	assert.Equal(t, rs.ResourceVersion, slim.ResourceVersion)
	assert.Equal(t, rs.OwnerReferences, slim.OwnerReferences)
	assert.Equal(t, rs.Spec.Replicas, slim.Spec.Replicas)
	assert.Equal(t, rs.Status, slim.Status)
	assert.True(t, metav1.IsControlledBy(slim, d))

	// The slim copy still tells which template it ran.
	assert.Equal(t, Revision(d.Spec.Template), Running(d, []*appsv1.ReplicaSet{slim}))
}

func TestSlimReplicaSetTwiceKeepsTheRevisionOfTheFullTemplate(t *testing.T) {
	d := deployment()
	once, err := SlimReplicaSet(replicaSetOf(d, "web-6d4cf56db6", "3"))
	require.NoError(t, err)
	twice, err := SlimReplicaSet(once)
	require.NoError(t, err)

	assert.Equal(t, Revision(d.Spec.Template), Running(d, []*appsv1.ReplicaSet{twice.(*appsv1.ReplicaSet)}))
}

func TestSlimReplicaSetWithoutRevisionNumber(t *testing.T) {
	rs := replicaSetOf(deployment(), "web-1", "")
	delete(rs.Annotations, RevisionNumberAnnotation)
	out, err := SlimReplicaSet(rs)
	require.NoError(t, err)
	slim := out.(*appsv1.ReplicaSet)
	assert.NotContains(t, slim.Annotations, RevisionNumberAnnotation)
	assert.Equal(t, int64(0), RevisionNumber(slim))
}

func TestSlimReplicaSetPassesOtherObjectsThrough(t *testing.T) {
	d := deployment()
	out, err := SlimReplicaSet(d)
	require.NoError(t, err)
	assert.Same(t, d, out)
}

func TestRunningPicksTheHighestRevisionControlledByTheDeployment(t *testing.T) {
	d := deployment()
	old := d.DeepCopy()
	old.Spec.Template.Spec.Containers[0].Image = "web:1"
	stranger := deployment()
	stranger.Name, stranger.UID = "other", "uid-other"
	newest := stranger.DeepCopy()
	newest.Spec.Template.Spec.Containers[0].Image = "web:9"

	slim := func(rs *appsv1.ReplicaSet) *appsv1.ReplicaSet {
		out, err := SlimReplicaSet(rs)
		require.NoError(t, err)
		return out.(*appsv1.ReplicaSet)
	}
	rsOld := replicaSetOf(old, "web-old", "9")
	rsCur := replicaSetOf(d, "web-cur", "10")
	rsOther := replicaSetOf(newest, "other-x", "99") // owned by another Deployment
	rsOther.OwnerReferences = []metav1.OwnerReference{OwnerRef(stranger)}
	orphan := replicaSetOf(newest, "orphan", "100")
	orphan.OwnerReferences = nil
	notController := replicaSetOf(newest, "ref-only", "101")
	notController.OwnerReferences[0].Controller = nil
	scaledBack := replicaSetOf(newest, "web-unvetted", "11")
	scaledBack.Spec.Replicas = new(int32)
	scaledBack.OwnerReferences = []metav1.OwnerReference{OwnerRef(d)}
	rsOldEmpty := rsOld.DeepCopy()
	rsOldEmpty.Spec.Replicas = new(int32)

	cases := []struct {
		name string
		sets []*appsv1.ReplicaSet
		want string
	}{
		{"none", nil, ""},
		{"only others' ReplicaSets", []*appsv1.ReplicaSet{rsOther, orphan, notController}, ""},
		{"highest revision wins whatever the order", []*appsv1.ReplicaSet{rsCur, rsOld, rsOther}, Revision(d.Spec.Template)},
		{"reverse order", []*appsv1.ReplicaSet{rsOld, rsOther, rsCur}, Revision(d.Spec.Template)},
		{"revision 10 beats 9 numerically", []*appsv1.ReplicaSet{slim(rsOld), slim(rsCur)}, Revision(d.Spec.Template)},
		{"full template is hashed", []*appsv1.ReplicaSet{rsOld}, Revision(old.Spec.Template)},
		{"a newer ReplicaSet scaled to zero runs nothing", []*appsv1.ReplicaSet{scaledBack, rsOld}, Revision(old.Spec.Template)},
		{"none with replicas: the newest", []*appsv1.ReplicaSet{scaledBack, rsOldEmpty}, Revision(newest.Spec.Template)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Running(d, tc.sets))
		})
	}
}

func TestRunningIgnoresAReplicaSetOfADeploymentWithTheSameNameButAnotherUID(t *testing.T) {
	d := deployment()
	recreated := d.DeepCopy()
	recreated.UID = types.UID("uid-web-2")
	rs := replicaSetOf(d, "web-1", "1")
	assert.Empty(t, Running(recreated, []*appsv1.ReplicaSet{rs}))
}
