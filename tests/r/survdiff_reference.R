# Log-rank / G-rho reference from R survdiff. usage: Rscript survdiff_reference.R in.csv out.csv rho [strata]
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(survival))
d <- read.csv(args[1], stringsAsFactors = FALSE)
d$group <- factor(d$group)
rhs <- if (length(args) > 3) "group + strata(stratum)" else "group"
f <- survdiff(as.formula(paste("Surv(time, status) ~", rhs)), data = d, rho = as.numeric(args[3]))
obs <- if (is.matrix(f$obs)) rowSums(f$obs) else f$obs
ex <- if (is.matrix(f$exp)) rowSums(f$exp) else f$exp
out <- data.frame(group = levels(d$group), n = as.vector(f$n), observed = obs, expected = ex,
                  var_diag = diag(f$var), chisq = f$chisq, df = length(ex) - 1)
write.csv(out, args[2], row.names = FALSE)
write.csv(f$var, sub("\\.csv$", "_var.csv", args[2]), row.names = FALSE)
