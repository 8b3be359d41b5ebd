using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("CrateRun.Core.Tests")]
