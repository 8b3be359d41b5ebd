System.Console.WriteLine("hi"); System.Threading.Thread.Sleep(int.Parse(System.Environment.GetEnvironmentVariable("S") ?? "0"));
