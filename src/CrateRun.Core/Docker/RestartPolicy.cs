using System.Globalization;

namespace CrateRun.Core.Docker;

/// <summary>
/// Docker's <c>--restart</c>: what the container's monitor does when the container exits.
/// no (the default), on-failure[:N] (a non-zero exit, at most N times; 0 or none: no limit),
/// always, unless-stopped. A stop or kill by the user ends every policy (Docker cancels its
/// restart manager then); <see cref="Decide"/> is the whole rule, the monitor carries it out.
/// </summary>
public sealed record RestartPolicy(string Name, int MaximumRetryCount = 0)
{
    public const string No = "no", OnFailure = "on-failure", Always = "always", UnlessStopped = "unless-stopped";

    /// <summary>Docker's back-off: the first wait, its growth, its cap, and how long a run resets it.</summary>
    public static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(100), MaximumDelay = TimeSpan.FromMinutes(1),
        ResetAfter = TimeSpan.FromSeconds(10);

    public bool IsNo => Name == No;

    /// <summary>The flag's form: "on-failure:3", "always".</summary>
    public override string ToString() => MaximumRetryCount > 0 ? $"{Name}:{MaximumRetryCount.ToString(CultureInfo.InvariantCulture)}" : Name;

    /// <summary>Parses a --restart value with Docker's rules and (one-line) error texts.</summary>
    public static RestartPolicy Parse(string text)
    {
        if (text.Length == 0) return new RestartPolicy(No);
        var colon = text.IndexOf(':');
        var name = colon < 0 ? text : text[..colon];
        if (colon == 0) throw new UsageException("invalid restart policy format: no policy provided before colon");
        var count = 0;
        if (colon >= 0 && colon < text.Length - 1
            && !int.TryParse(text[(colon + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out count))
            throw new UsageException("invalid restart policy format: maximum retry count must be an integer");
        if (name is not (No or OnFailure or Always or UnlessStopped))
            throw new UsageException($"invalid restart policy: unknown policy '{name}'; use one of '{No}', '{Always}', '{OnFailure}', or '{UnlessStopped}'");
        if (count != 0 && name != OnFailure)
            throw new UsageException($"invalid restart policy: maximum retry count can only be used with '{OnFailure}'");
        if (count < 0) throw new UsageException("invalid restart policy: maximum retry count cannot be negative");
        return new RestartPolicy(name, count);
    }

    /// <summary>
    /// After an exit: restart or not, and after how long. <paramref name="previousDelay"/> is the
    /// wait before the last restart (zero before the first); a run of at least <see cref="ResetAfter"/>
    /// starts the back-off again at <see cref="FirstDelay"/>, otherwise it doubles up to
    /// <see cref="MaximumDelay"/> (Docker's restartmanager). <paramref name="restartCount"/> is how
    /// often the policy restarted the container already (on-failure:N allows N).
    /// </summary>
    public RestartDecision Decide(int exitCode, bool stoppedByUser, int restartCount, TimeSpan ranFor, TimeSpan previousDelay)
    {
        var restart = !stoppedByUser && Name switch
        {
            Always or UnlessStopped => true,
            OnFailure => exitCode != 0 && (MaximumRetryCount == 0 || restartCount < MaximumRetryCount),
            _ => false,
        };
        if (!restart) return new RestartDecision(false, TimeSpan.Zero);
        var delay = ranFor >= ResetAfter || previousDelay <= TimeSpan.Zero ? FirstDelay : previousDelay * 2;
        return new RestartDecision(true, delay > MaximumDelay ? MaximumDelay : delay);
    }
}

/// <summary>What <see cref="RestartPolicy.Decide"/> says: restart after <see cref="Delay"/>, or leave the container exited.</summary>
public readonly record struct RestartDecision(bool Restart, TimeSpan Delay);
