# Independent reference for Firth's penalised Cox (Heinze & Schemper 2001) built only from R
# survival: l(b) and I(b) from coxph(init = b, iter.max = 0) with Breslow ties, the penalised
# log-likelihood l*(b) = l(b) + log|I(b)|/2 maximised with optim (numerical gradient), profile
# bounds by uniroot, penalised LR tests by constrained optim.
# usage: Rscript firth_reference.R input.csv output.csv formula_rhs
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(survival))
d <- read.csv(args[1], stringsAsFactors = TRUE)
form <- as.formula(paste("Surv(time, status) ~", args[3]))
p <- length(coef(coxph(form, data = d, ties = "breslow")))
pl <- function(b) tryCatch({
  f <- suppressWarnings(coxph(form, data = d, ties = "breslow", init = b, control = coxph.control(iter.max = 0)))
  f$loglik[2] + 0.5 * determinant(solve(f$var), logarithm = TRUE)$modulus[1]
}, error = function(e) -1e10)
grad <- function(fun, b, h = 1e-5) sapply(seq_along(b), function(i) {
  e <- rep(0, length(b)); e[i] <- h; (fun(b + e) - fun(b - e)) / (2 * h) })
maxim <- function(fun, b0) {
  if (length(b0) == 0) return(list(par = b0, value = fun(b0)))
  o <- optim(b0, function(b) -fun(b), function(b) -grad(fun, b), method = "BFGS",
             control = list(reltol = 1e-16, maxit = 1000))
  list(par = o$par, value = -o$value)
}
fit <- maxim(pl, rep(0, p))
bhat <- fit$par; plmax <- fit$value
prof <- function(k, v) {
  g <- function(bo) { b <- numeric(p); b[k] <- v; b[-k] <- bo; pl(b) }
  maxim(g, bhat[-k])$value
}
target <- plmax - qchisq(0.95, 1) / 2
out <- data.frame(k = seq_len(p), coef = bhat, lower = NA, upper = NA, p = NA)
for (k in seq_len(p)) {
  fk <- function(v) prof(k, v) - target
  lo <- bhat[k] - 1; while (fk(lo) > 0) lo <- lo - 1
  hi <- bhat[k] + 1; while (fk(hi) > 0) hi <- hi + 1
  out$lower[k] <- uniroot(fk, c(lo, bhat[k]), tol = 1e-11)$root
  out$upper[k] <- uniroot(fk, c(bhat[k], hi), tol = 1e-11)$root
  out$p[k] <- pchisq(2 * (plmax - prof(k, 0)), 1, lower.tail = FALSE)
}
out <- rbind(out, data.frame(k = 0, coef = plmax, lower = pl(rep(0, p)), upper = NA, p = NA))
write.csv(out, args[2], row.names = FALSE)
