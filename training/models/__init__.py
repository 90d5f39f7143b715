"""Model families (torch ``nn.Module``s), one algorithm per file."""
