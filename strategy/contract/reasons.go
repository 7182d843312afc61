package contract

// Event reasons, one per transition (also the Status.Reason values).
const (
	ReasonProgressing   = "Progressing"
	ReasonRestarted     = "Restarted"
	ReasonStepAdvanced  = "StepAdvanced"
	ReasonGatePassed    = "GatePassed"
	ReasonGateFailed    = "GateFailed"
	ReasonInconclusive  = "GateInconclusive"
	ReasonPaused        = "Paused"
	ReasonResumed       = "Resumed"
	ReasonPromoting     = "Promoting"
	ReasonPromoted      = "Promoted"
	ReasonRollingBack   = "RollingBack"
	ReasonRolledBack    = "RolledBack"
	ReasonNotReady      = "CanaryNotReady"
	ReasonReverted      = "Reverted"
	ReasonAborted       = "Aborted"
	ReasonAlert         = "AlertRollback"
	ReasonAlertIgnored  = "AlertIgnored"
	ReasonRoutingBroken = "RoutingUnavailable"
	// ReasonCheckFailed: the continuous judge failed a check between gates.
	ReasonCheckFailed = "CheckFailed"
)

// ReasonAwaitingApproval marks the pause after a passed gate at a pause-at step:
// approving it advances, while resuming a manual pause re-analyses the step.
const ReasonAwaitingApproval = "AwaitingApproval"

// Blue/green Event reasons.
const (
	ReasonSwitched    = "Switched"
	ReasonConfirmed   = "Confirmed"
	ReasonUnsupported = "CommandUnsupported"
)

// ReasonInvalidSpec marks a rollout held because its annotations stopped parsing.
const ReasonInvalidSpec = "InvalidSpec"

// Undo reasons (also Event reasons).
const (
	// ReasonUndo starts an undo: the kept revision's template is written back.
	ReasonUndo = "Undo"
	// ReasonUndone records a finished undo: the stable pods run the revision.
	ReasonUndone = "Undone"
	// ReasonUndoRefused says why an undo command changed nothing.
	ReasonUndoRefused = "UndoRefused"
)

// ReasonUnvetted is the Event reason when the stable's Deployment controller
// rolled out a template no analysis vetted.
const ReasonUnvetted = "UnvettedRollout"
