/* Loss curves as a self-contained SVG chart (herd train writes one beside
 * its checkpoints). */
#ifndef HERD_TRAIN_PLOT_H
#define HERD_TRAIN_PLOT_H
#include "herd.h"

typedef struct {
    double step;
    double loss;
} herd_plot_point;

/* Writes a line chart of the train and validation losses against step to
 * path (as path.tmp, renamed when complete): title (NULL: "Loss"), axes
 * with tick labels, a legend, one polyline per series that has points.
 * Points whose loss is not finite are left out. */
herd_status herd_plot_loss_svg(const char *path, const char *title,
                               const herd_plot_point *train, int n_train,
                               const herd_plot_point *val, int n_val);

#endif
