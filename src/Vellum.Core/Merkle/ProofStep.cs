using Vellum.Core.Primitives;

namespace Vellum.Core.Merkle;

/// <summary>
/// One step of a path from a leaf to a root: the sibling hash and which side it sits on.
/// Folding a path is <c>h = SiblingIsLeft ? H(sibling ‖ h) : H(h ‖ sibling)</c>, exactly as an ACL receipt's
/// <c>{"left": …}</c> / <c>{"right": …}</c> elements are folded.
/// </summary>
public readonly record struct ProofStep(bool SiblingIsLeft, Hash32 Sibling);
