using Microsoft.Extensions.Logging;

namespace Vellum.Node;

/// <summary>Every log event of the node. EventIds 1000–1999 belong to Vellum.Node.</summary>
internal static partial class LogMessages
{
    [LoggerMessage(1000, LogLevel.Information, "Ledger {LedgerId} ({LedgerType}) listening on {Endpoint}; service certificate {ServiceCertificate}", EventName = "NodeStarted")]
    public static partial void NodeStarted(ILogger logger, string ledgerId, string ledgerType, string endpoint, string serviceCertificate);

    [LoggerMessage(1001, LogLevel.Warning, "No --admin-cert given: created a development Administrator at {Path}", EventName = "CreatedDevelopmentAdministrator")]
    public static partial void CreatedDevelopmentAdministrator(ILogger logger, string path);

    [LoggerMessage(1002, LogLevel.Information, "Ledger {LedgerId} stopping; last seqno {Seqno}", EventName = "NodeStopping")]
    public static partial void NodeStopping(ILogger logger, string ledgerId, long seqno);

    [LoggerMessage(1003, LogLevel.Error, "Request {Method} {Path} failed", EventName = "RequestFailed")]
    public static partial void RequestFailed(ILogger logger, string method, string path, Exception exception);

    [LoggerMessage(1040, LogLevel.Debug, "Request {Method} {Path} refused by Kestrel with {Status}: {Reason}", EventName = "RequestRejected")]
    public static partial void RequestRejected(ILogger logger, string method, string path, int status, string reason);

    [LoggerMessage(1004, LogLevel.Warning, "Forwarding {Method} {Path} to the primary at {Primary} failed", EventName = "ForwardFailed")]
    public static partial void ForwardFailed(ILogger logger, string method, string path, string primary, Exception exception);

    [LoggerMessage(1005, LogLevel.Information, "Caught up {Count} transactions from {Peer}: the ledger now ends at seqno {Seqno} ({Milliseconds} ms)", EventName = "CaughtUpFromPeer")]
    public static partial void CaughtUpFromPeer(ILogger logger, long count, Uri peer, long seqno, long milliseconds);

    [LoggerMessage(1006, LogLevel.Warning, "Catching up from {Peer} failed; trying the next member", EventName = "CatchUpPeerFailed")]
    public static partial void CatchUpPeerFailed(ILogger logger, Uri peer, Exception exception);

    [LoggerMessage(1007, LogLevel.Warning, "{Peer} refused to send ledger frames (HTTP {Status}); trying the next member", EventName = "CatchUpPeerRefused")]
    public static partial void CatchUpPeerRefused(ILogger logger, Uri peer, int status);

    [LoggerMessage(1008, LogLevel.Information, "Renewed the node certificate (the old one expires at {OldNotAfter:O}, the new one at {NewNotAfter:O}) in {Path}", EventName = "RenewedNodeCertificate")]
    public static partial void RenewedNodeCertificate(ILogger logger, DateTime oldNotAfter, DateTime newNotAfter, string path);

    [LoggerMessage(1009, LogLevel.Error, "Renewing the node certificate failed; the next check tries again", EventName = "NodeCertificateRenewalFailed")]
    public static partial void NodeCertificateRenewalFailed(ILogger logger, Exception exception);

    [LoggerMessage(1041, LogLevel.Warning, "The node log holds batches of ledger '{Ledger}', which this node no longer has; they are dropped", EventName = "NodeLogLedgerGone")]
    public static partial void NodeLogLedgerGone(ILogger logger, string ledger);

    [LoggerMessage(1042, LogLevel.Information, "Made the ledger '{Ledger}' ({LedgerType}) while running; service certificate {ServiceCertificate}", EventName = "LedgerCreated")]
    public static partial void LedgerCreated(ILogger logger, string ledger, string ledgerType, string serviceCertificate);

    [LoggerMessage(1043, LogLevel.Warning, "The consensus log makes the ledger '{Ledger}', but no member gave its material yet (attempt {Attempt}); trying again", EventName = "LedgerMaterialUnavailable")]
    public static partial void LedgerMaterialUnavailable(ILogger logger, string ledger, int attempt, Exception? exception);

    [LoggerMessage(1044, LogLevel.Warning, "A second creation of the ledger '{Ledger}' in the consensus log was ignored: the first holds", EventName = "LedgerCreationIgnored")]
    public static partial void LedgerCreationIgnored(ILogger logger, string ledger);

    [LoggerMessage(1045, LogLevel.Information, "Deleted the ledger '{Ledger}' (last signed transaction {LastSigned}) for {DeletedBy}; its tombstone is kept", EventName = "LedgerDeleted")]
    public static partial void LedgerDeleted(ILogger logger, string ledger, string lastSigned, string deletedBy);

    [LoggerMessage(1046, LogLevel.Error, "Closing or erasing the deleted ledger '{Ledger}' failed; the next start erases what is left", EventName = "LedgerErasureFailed")]
    public static partial void LedgerErasureFailed(ILogger logger, string ledger, Exception exception);

    [LoggerMessage(1047, LogLevel.Warning, "The tombstone {Path} cannot be read; it is left out", EventName = "TombstoneUnreadable")]
    public static partial void TombstoneUnreadable(ILogger logger, string path, Exception exception);

    [LoggerMessage(1048, LogLevel.Warning, "A bearer token names the key '{Kid}', which the issuer {Issuer} does not publish (its keys were fetched again, if a minute has passed since the last fetch)", EventName = "TokenKeyUnknown")]
    public static partial void TokenKeyUnknown(ILogger logger, string issuer, string kid);

    [LoggerMessage(1049, LogLevel.Error, "The keys of the identity provider {Issuer} cannot be fetched (the keys fetched before, if any, stay in use)", EventName = "IssuerKeysUnavailable")]
    public static partial void IssuerKeysUnavailable(ILogger logger, string issuer, Exception exception);

    [LoggerMessage(1050, LogLevel.Information, "Control plane: {Kind} of ledger {LedgerName} by {Caller} started (operation {OperationId})", EventName = "ManagementOperationStarted")]
    public static partial void ManagementOperationStarted(ILogger logger, string kind, string ledgerName, string caller, string operationId);

    [LoggerMessage(1051, LogLevel.Information, "Control plane: {Kind} of ledger {LedgerName} (operation {OperationId}) {Status}", EventName = "ManagementOperationEnded")]
    public static partial void ManagementOperationEnded(ILogger logger, string kind, string ledgerName, string operationId, string status);

    [LoggerMessage(1052, LogLevel.Error, "Control plane: {Kind} of ledger {LedgerName} (operation {OperationId}) failed", EventName = "ManagementOperationFailed")]
    public static partial void ManagementOperationFailed(ILogger logger, string kind, string ledgerName, string operationId, Exception exception);

    [LoggerMessage(1053, LogLevel.Warning, "This member had no deployment identity: it adopted the service key of the ledger 'default' as the deployment's (an upgrade, or the folder was lost): {Path}", EventName = "DeploymentIdentityAdopted")]
    public static partial void DeploymentIdentityAdopted(ILogger logger, string path);
}
