"""What the op registry cannot say about each op by itself: which Keras layers (or keras.ops /
TensorFlow functions) produce it, which kernels run it and when each is chosen, and what is
refused. docs/ops.md is generated from this table and `tinyedge.ops.supported_ops()` by
`python -m tinyedge.ops.docs`; tests/test_ops_docs.py fails when an op registered with
`@lowering` has no row here (or a row has no op), when a kernel named here has no
firmware/kernels/<name>.c, or when a kernel file is named by no row.

Adding an op: one `OpDoc` row, in alphabetical order; the reference kernel first, then each
fast variant with the condition under which the lowering picks it. Whether a kernel has a
DSP-extension path is read from its C source, not written here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kernel:
    """A kernel of firmware/kernels/; `when` is empty for the reference kernel, else the
    condition under which the lowering picks this faster variant (same bytes)."""

    name: str
    when: str = ""


@dataclass(frozen=True)
class OpDoc:
    op: str  # the TFLite builtin op, as registered with @lowering
    keras: str  # the Keras layers, keras.ops or tf functions that produce it
    kernels: tuple[Kernel, ...]  # reference first
    restrictions: str  # what the op requires (anything else is refused), and why; int8 goes without saying


_IN_RANGE = ("any requantization (a channel outside the fast rounding's right shifts 1-22 and accumulators "
             "below 2^30 is requantized as the reference does, inside the kernel)")
_BROADCAST = "per-tensor quantization; broadcasting up to 4-D (after merging dimensions)"
_FUSED = "fused activation NONE, RELU, RELU6 or RELU_N1_TO_1"
_INT16 = "int16 activations (16x8 mode)"
_COPY = "bytes copied unchanged, whatever the quantization (TFLite-Micro checks none)"
_COMPARISON = ("per-tensor quantization, each input scale inside (0, 1) (TFLite-Micro aborts on others); "
               "bool output (one byte), which a later op such as SELECT_V2 reads (a model's output is int8); "
               "broadcasting up to 4-D (after merging dimensions)")

OPS: tuple[OpDoc, ...] = (
    OpDoc("ABS", "keras.ops.abs, tf.abs",
          (Kernel("te_abs_s8"), Kernel("te_lookup_s8", "256 elements or more (a table of all 256 answers)"),
           Kernel("te_abs_s16", _INT16)),
          "per-tensor quantization; input and output of one size; int16: zero point 0, as TFLite-Micro requires"),
    OpDoc("ADD", "Add, keras.ops.add, `a + b` (residual blocks); LSTM and GRU steps",
          (Kernel("te_add_s8"), Kernel("te_add_table_s8", "320 outputs or more"), Kernel("te_add_s16", _INT16)),
          f"{_BROADCAST}; each input's rescale factor inside (0, 1), as TFLite-Micro requires; {_FUSED}"),
    OpDoc("ADD_N", "tf.math.add_n in a hand-built int8 model (the converter keeps it in float; Keras's Add of "
          "three or more inputs gives a chain of ADDs)",
          (Kernel("te_add_n_s8"),),
          "two or more inputs of one shape, scale and zero point, as TFLite-Micro requires; output rescale "
          "factor inside (0, 1); no fused activation"),
    OpDoc("ARG_MAX", "tf.math.argmax with output_type=tf.int32",
          (Kernel("te_arg_max_s8"),),
          "int32 positions (TensorFlow's default int64 is refused, as TFLite-Micro refuses it); one "
          "constant axis"),
    OpDoc("ARG_MIN", "tf.math.argmin with output_type=tf.int32",
          (Kernel("te_arg_min_s8"),),
          "int32 positions (TensorFlow's default int64 is refused, as TFLite-Micro refuses it); one "
          "constant axis"),
    OpDoc("AVERAGE_POOL_2D", "AveragePooling2D, AveragePooling1D",
          (Kernel("te_avg_pool2d_s8"), Kernel("te_avg_pool2d_s16", _INT16)),
          "4-D NHWC; SAME or VALID padding, no window wholly in the padding; output quantization equal to "
          f"the input's (TFLite-Micro refuses others); {_FUSED}"),
    OpDoc("BATCH_MATMUL", "keras.ops.matmul, tf.linalg.matmul of two tensors (attention scores and values)",
          (Kernel("te_batch_matmul_s8"), Kernel("te_batch_matmul_widened_s8", "always"),
           Kernel("te_batch_matmul_s16", "int16 operands and output (16x8 mode)"),
           Kernel("te_batch_matmul_packed_s16", "int16 operands and output")),
          "per-tensor quantization of both operands and the output; ranks 2 to 5; batch dimensions equal or "
          "1; equal depths after adj_x / adj_y; no fused activation; int16: zero points 0, as TFLite-Micro "
          "requires"),
    OpDoc("BATCH_TO_SPACE_ND", "tf.batch_to_space (the second half of an unfused dilated convolution)",
          (Kernel("te_batch_to_space_nd_s8"),),
          "3-D or 4-D; constant block shape and crops; an output shape that follows from them "
          "(TFLite-Micro would leave bytes unwritten)"),
    OpDoc("CAST", "tf.cast, keras.ops.cast between int8 and int16/int32, or of a comparison's bool to int8",
          (Kernel("te_cast_s8"),),
          "int8 to int8, int16 or int32; int16, int32 or bool to int8 (values wrap modulo 256, as TFLite-Micro's "
          "static_cast does); nothing requantized"),
    OpDoc("CONCATENATION", "Concatenate, keras.ops.concatenate, Bidirectional",
          (Kernel("te_concatenation_s8"),),
          f"at most 10 inputs and 5 dimensions, no fused activation, as TFLite-Micro; {_COPY}; int16: zero point 0 "
          "everywhere, as TFLite-Micro requires"),
    OpDoc("CONV_2D", "Conv2D, Conv1D, the pointwise half of SeparableConv2D",
          (Kernel("te_conv2d_s8"),
           Kernel("te_conv2d_1x1_s8", f"1x1 filter, no padding, not grouped, {_IN_RANGE}"),
           Kernel("te_conv2d_im2col_s8", f"other filters, not grouped, {_IN_RANGE}"),
           Kernel("te_conv2d_s16", "int16 activations (16x8 mode)"),
           Kernel("te_conv2d_1x1_s16", "int16 activations, 1x1 filter, no padding, not grouped"),
           Kernel("te_conv2d_im2col_s16", "int16 activations, other filters, not grouped")),
          f"constant filter, one scale or one per output channel; SAME or VALID padding; {_FUSED}; 16x8: int8 "
          "weights, an int64 or int32 bias (the sum in that type, as TFLite-Micro's)"),
    OpDoc("CUMSUM", "tf.math.cumsum in a hand-built int8 model (the converter keeps keras.ops.cumsum in float)",
          (Kernel("te_cumsum_s8"),),
          "a constant int32 axis inside the input's rank; exclusive and reverse; input and output of one shape; "
          "output rescale factor inside (0, 1); no fused activation"),
    OpDoc("DEPTHWISE_CONV_2D", "DepthwiseConv2D, the depthwise half of SeparableConv2D",
          (Kernel("te_depthwise_conv2d_s8"),
           Kernel("te_depthwise_conv2d_ch4_s8", "depth multiplier 1, channels a multiple of 4, filter height "
                                                f"8 or less, no dilation, {_IN_RANGE}"),
           Kernel("te_depthwise_conv2d_3x3_s8", "depth multiplier 1, a 3x3 filter, stride 1 or 2 each way, "
                                                "no dilation, an output 12 pixels wide or more or channels not "
                                                f"a multiple of 4 (before te_depthwise_conv2d_ch4_s8), {_IN_RANGE}"),
           Kernel("te_depthwise_conv2d_s16", "int16 activations (16x8 mode)"),
           Kernel("te_depthwise_conv2d_ch4_s16", "int16 activations, depth multiplier 1, at most 511 taps")),
          f"constant filter, one scale or one per output channel; SAME or VALID padding; {_FUSED}; 16x8: int8 "
          "weights, an int64 bias (TFLite-Micro reads it as int64)"),
    OpDoc("DEPTH_TO_SPACE", "tf.nn.depth_to_space (pixel shuffle)",
          (Kernel("te_depth_to_space_s8"),),
          f"4-D input; block size squared dividing the depth; {_COPY}"),
    OpDoc("DEQUANTIZE", "the float32 output of a model whose interface is float",
          (Kernel("te_dequantize_s8"),),
          "int8 to float32 only; per-tensor quantization"),
    OpDoc("DIV", "keras.ops.divide, `a / b`",
          (Kernel("te_div_s8"),),
          f"{_BROADCAST}; no constant divisor at its zero point (a division by zero; a run-time divisor must "
          f"avoid it too); rescale factor input1_scale / (input2_scale * output_scale) in [2^-25, 2^23); {_FUSED}"),
    OpDoc("DYNAMIC_UPDATE_SLICE", "keras.ops.slice_update, though TensorFlow's converter leaves that one float "
                                  "(refused at the quantize stage); int8 ones from files written otherwise",
          (Kernel("te_dynamic_update_slice_s8"),),
          "up to 6-D; constant int32 or int64 start indices, clamped as TFLite-Micro clamps them; an update of "
          f"the operand's rank that fits inside it; {_COPY}"),
    OpDoc("ELU", "ELU, `activation=\"elu\"` (the float ELU the converter leaves is mended to int8 by the "
                 "quantize stage)",
          (Kernel("te_lookup_s8"),),
          "alpha 1 (another alpha is refused at the quantize stage, naming the layer)"),
    OpDoc("EMBEDDING_LOOKUP", "hand-built int8 models with constant ids (the firmware's inputs are int8, so "
          "Keras's Embedding on integer model inputs cannot feed it)",
          (Kernel("te_embedding_lookup_s8"),),
          "1-D int32 ids, constant ones inside the table; a table of rank 2 or more; int8 output only "
          f"(TFLite-Micro's float32 dequantizing output is not taken); {_COPY}"),
    OpDoc("EQUAL", "keras.ops.equal, `a == b` (tf.equal)",
          (Kernel("te_comparison_s8"),),
          _COMPARISON),
    OpDoc("EXPAND_DIMS", "keras.ops.expand_dims, tf.expand_dims; Conv1D and UpSampling1D reshapes",
          (Kernel("te_reshape_s8"),),
          "input and output with as many elements"),
    OpDoc("FILL", "tf.fill, keras.ops.full in a .tflite compiled as it is (from Keras, the converter folds a "
                  "fixed-shape fill into a constant, and the quantize stage refuses the FILL of a dynamic shape)",
          (Kernel("te_fill_s8"),),
          "a scalar value, its byte copied unchanged; constant 1-D integer dims equal to the output shape (as "
          "TFLite-Micro requires), rank 1 or more"),
    OpDoc("FULLY_CONNECTED", "Dense; the input and recurrent kernels of LSTM, GRU and SimpleRNN (unrolled: "
                               "docs/recurrent.md)",
          (Kernel("te_fully_connected_s8"),
           Kernel("te_fully_connected_packed_s8", f"weights without a zero point, {_IN_RANGE}"),
           Kernel("te_fully_connected_s16", "int16 activations (16x8 mode)"),
           Kernel("te_fully_connected_packed_s16", "int16 activations, input and weights without a zero point")),
          "constant weights in the default format; per-tensor weights need bias scale = input scale x "
          f"weight scale (TFLite-Micro refuses others); {_FUSED}; 16x8: int8 weights, an int64 or int32 bias"),
    OpDoc("GATHER", "keras.ops.take, tf.gather, `x[:, [2, 0]]`",
          (Kernel("te_gather_s8"),),
          "int32 positions, axis and batch_dims as TFLite-Micro checks them; constant positions inside the "
          f"axis; {_COPY}"),
    OpDoc("GATHER_ND", "tf.gather_nd",
          (Kernel("te_gather_nd_s8"),),
          "int32 positions of depth 1 to 5, at most the input's rank; constant positions whose slices lie inside "
          f"the input (the only check TFLite-Micro makes); {_COPY}"),
    OpDoc("GREATER", "keras.ops.greater, `a > b`",
          (Kernel("te_comparison_s8"),),
          _COMPARISON),
    OpDoc("GREATER_EQUAL", "keras.ops.greater_equal, `a >= b`",
          (Kernel("te_comparison_s8"),),
          _COMPARISON),
    OpDoc("HARD_SWISH", "Activation(\"hard_swish\")",
          (Kernel("te_hard_swish_s8"),),
          "per-tensor quantization; input and output scales not too far apart for the 16-bit fixed point"),
    OpDoc("L2_NORMALIZATION", "tf.math.l2_normalize over the last axis",
          (Kernel("te_l2_normalization_s8"),),
          "at most 4-D; no fused activation; output in units of 1/128 with zero point 0, as the converter "
          "writes it"),
    OpDoc("LEAKY_RELU", "LeakyReLU, Activation(\"leaky_relu\")",
          (Kernel("te_relu_s8"), Kernel("te_relu_s16", _INT16)),
          "alpha 0 or more; per-tensor quantization"),
    OpDoc("LESS", "keras.ops.less, `a < b`",
          (Kernel("te_comparison_s8"),),
          _COMPARISON),
    OpDoc("LESS_EQUAL", "keras.ops.less_equal, `a <= b`",
          (Kernel("te_comparison_s8"),),
          _COMPARISON),
    OpDoc("LOGISTIC", "Activation(\"sigmoid\"), `activation=\"sigmoid\"`; LSTM and GRU gates",
          (Kernel("te_logistic_s8"), Kernel("te_lookup_s8", "always (a 256-byte table of te_logistic_s8's bytes)"),
           Kernel("te_logistic_s16", _INT16)),
          "output zero point -128 (TFLite-Micro requires it); an input scale large enough for the Q4.27 "
          "input; int16: zero point 0 on input and output and output scale 2^-15, as TFLite-Micro requires"),
    OpDoc("LOG_SOFTMAX", "keras.ops.log_softmax, tf.nn.log_softmax",
          (Kernel("te_log_softmax_s8"),),
          "output scale 16/256 and zero point 127 (TFLite-Micro requires them)"),
    OpDoc("MAXIMUM", "Maximum, keras.ops.maximum",
          (Kernel("te_maximum_s8"), Kernel("te_maximum_s16", _INT16)),
          f"{_BROADCAST}; raw bytes compared, the quantizations taken equal as TFLite-Micro takes them"),
    OpDoc("MAX_POOL_2D", "MaxPooling2D, MaxPooling1D",
          (Kernel("te_max_pool2d_s8"), Kernel("te_max_pool2d_s16", _INT16)),
          "4-D NHWC; SAME or VALID padding, no window wholly in the padding; output quantization equal to "
          f"the input's (TFLite-Micro refuses others); {_FUSED}"),
    OpDoc("MEAN", "GlobalAveragePooling2D, GlobalAveragePooling1D, GroupNormalization, keras.ops.mean",
          (Kernel("te_mean_s8"), Kernel("te_mean_s16", _INT16)),
          "constant int32 axes, any number of them; inputs up to 5-D; per-tensor quantization; sums that fit int32"),
    OpDoc("MINIMUM", "Minimum, keras.ops.minimum",
          (Kernel("te_minimum_s8"), Kernel("te_minimum_s16", _INT16)),
          f"{_BROADCAST}; raw bytes compared, the quantizations taken equal as TFLite-Micro takes them"),
    OpDoc("MIRROR_PAD", "tf.pad with mode REFLECT or SYMMETRIC (reflection padding)",
          (Kernel("te_mirror_pad_s8"),),
          "constant paddings, small enough that every mirrored coordinate lies inside the input "
          "(TFLite-Micro would read past it)"),
    OpDoc("MUL", "Multiply (squeeze-excite), keras.ops.multiply, hard_sigmoid; the NEG and SQUARE of "
                 "LayerNormalization and UnitNormalization, mended by the quantize stage; LSTM and GRU steps",
          (Kernel("te_mul_s8"),
           Kernel("te_mul_rounding_s8", "any output multiplier (one SMMLAR for right shifts of 1-22 and left shifts "
                                        "up to 14)"),
           Kernel("te_mul_s16", _INT16)),
          f"{_BROADCAST}; {_FUSED}; int16: zero point 0 everywhere, as TFLite-Micro requires"),
    OpDoc("NOT_EQUAL", "keras.ops.not_equal, `a != b` (tf.not_equal)",
          (Kernel("te_comparison_s8"),),
          _COMPARISON),
    OpDoc("PACK", "keras.ops.stack, tf.stack; a recurrent layer with return_sequences=True",
          (Kernel("te_concatenation_s8"),),
          f"inputs of one shape; {_COPY}"),
    OpDoc("PAD", "ZeroPadding2D, ZeroPadding1D, keras.ops.pad",
          (Kernel("te_pad_s8"), Kernel("te_pad_s16", _INT16)),
          "constant [rank, 2] paddings; up to 5-D; output shape the input's plus the paddings; int16 fills with "
          "0 (TFLite-Micro's int16 PAD ignores the zero point)"),
    OpDoc("PADV2", "tf.pad with a constant_values",
          (Kernel("te_pad_s8"), Kernel("te_pad_s16", _INT16)),
          "constant [rank, 2] paddings; up to 5-D; a fill value quantized as the output (int16: taken as it "
          "is, unchecked, as TFLite-Micro takes it)"),
    OpDoc("PRELU", "PReLU",
          (Kernel("te_prelu_s8"), Kernel("te_prelu_s16", "int16 input and output with an int8 alpha (16x8 mode)")),
          "broadcasting of alpha as TFLite-Micro's; a per-channel tensor is read with its first scale and "
          "zero point, as TFLite-Micro reads it; int16: alpha int8, as TFLite-Micro requires"),
    OpDoc("QUANTIZE", "the float32 input of a model whose interface is float; int8 requantization between "
                      "layers",
          (Kernel("te_quantize_s8"),
           Kernel("te_quantize_s16", "int16 or int32 on either side: int16 to int16, int8 or int32, and back")),
          "between int8, int16 and int32, or float32 to int8; per-tensor quantization"),
    OpDoc("REDUCE_MAX", "GlobalMaxPooling2D, GlobalMaxPooling1D, keras.ops.max",
          (Kernel("te_reduce_max_s8"),),
          "constant axes; output quantization equal to the input's (TFLite-Micro requires it)"),
    OpDoc("REDUCE_MIN", "keras.ops.min, tf.reduce_min",
          (Kernel("te_reduce_min_s8"),),
          "constant axes; output quantization equal to the input's (TFLite-Micro requires it)"),
    OpDoc("RELU", "ReLU, Activation(\"relu\") where the converter cannot fuse it",
          (Kernel("te_relu_s8"), Kernel("te_relu_s16", _INT16)),
          "per-tensor quantization; int16: zero point 0 on input and output, as TFLite-Micro requires"),
    OpDoc("RELU6", "ReLU(max_value=6), Activation(\"relu6\") where the converter cannot fuse it",
          (Kernel("te_relu_s8"), Kernel("te_relu_s16", _INT16)),
          "per-tensor quantization; clamps in the input's quantization, as TFLite-Micro does"),
    OpDoc("RESHAPE", "Flatten, Reshape, keras.ops.reshape",
          (Kernel("te_reshape_s8"),),
          "input and output with as many elements"),
    OpDoc("RESIZE_BILINEAR", "Resizing(interpolation=\"bilinear\"), UpSampling2D(interpolation=\"bilinear\")",
          (Kernel("te_resize_bilinear_s8"),),
          "4-D input; constant int32 size; not both align_corners and half_pixel_centers (TFLite-Micro "
          "refuses that)"),
    OpDoc("RESIZE_NEAREST_NEIGHBOR", "Resizing(interpolation=\"nearest\"), UpSampling2D and UpSampling1D "
                                     "(rewritten by the quantize stage)",
          (Kernel("te_resize_nearest_neighbor_s8"),),
          f"4-D input; constant int32 size; {_COPY}"),
    OpDoc("REVERSE_V2", "tf.reverse; the backward half of Bidirectional(..., "
                        "return_sequences=True)",
          (Kernel("te_reverse_s8"),),
          f"constant int32 axes that are neighbours once sorted (TFLite-Micro refuses others); {_COPY}"),
    OpDoc("RSQRT", "keras.ops.rsqrt, tf.math.rsqrt; LayerNormalization, UnitNormalization",
          (Kernel("te_rsqrt_s8"), Kernel("te_lookup_s8", "4 elements or more (a table of all 256 answers)"),
           Kernel("te_rsqrt_s16", _INT16)),
          "input and output scales that keep the rescaling inside TFLite-Micro's range; int16: zero point 0, as "
          "TFLite-Micro requires"),
    OpDoc("SELECT_V2", "keras.ops.where(condition, x, y) with x or y of another shape or a constant (tf.where); "
                       "three tensors of one shape give SELECT, which TFLite-Micro lacks",
          (Kernel("te_select_v2_s8"), Kernel("te_select_v2_s16", _INT16)),
          "bool condition; x, y and output int8 or int16, raw values copied (the quantizations taken equal, as "
          "TFLite-Micro takes them); broadcasting of all three up to 5-D (after merging dimensions), the output of the "
          "largest input's rank"),
    OpDoc("SLICE", "tf.slice, keras.ops.slice (or STRIDED_SLICE, as the converter chooses)",
          (Kernel("te_strided_slice_s8"),),
          "up to 5-D; constant begin and size; a box inside the input (TFLite-Micro does not check)"),
    OpDoc("SOFTMAX", "Softmax, `activation=\"softmax\"`",
          (Kernel("te_softmax_s8"), Kernel("te_softmax_s8_s16", "int8 input, int16 output"),
           Kernel("te_softmax_s16", _INT16)),
          "output scale 1/256 and zero point -128 (TFLite-Micro requires them); beta x input scale large "
          "enough for the fixed point; int8 to int16: output scale 1/65536 and zero point -32768; int16: zero "
          "point 0 on input and output and output scale 1/32768, as TFLite-Micro requires"),
    OpDoc("SPACE_TO_BATCH_ND", "tf.space_to_batch_nd (the first half of an unfused dilated convolution)",
          (Kernel("te_space_to_batch_nd_s8"),),
          "no padding (TFLite-Micro pads with whatever its arena held, which no firmware can match); 3-D "
          "or 4-D; constant block shape"),
    OpDoc("SPACE_TO_DEPTH", "tf.nn.space_to_depth",
          (Kernel("te_space_to_depth_s8"),),
          f"4-D input; height and width multiples of the block size; {_COPY}"),
    OpDoc("SPLIT", "keras.ops.split, tf.split into N equal parts; the gates of LSTM and GRU",
          (Kernel("te_split_s8"),),
          f"constant axis; output shapes that add up to the input's; {_COPY}"),
    OpDoc("SPLIT_V", "tf.split with sizes",
          (Kernel("te_split_s8"),),
          f"constant axis; output shapes that add up to the input's; {_COPY}"),
    OpDoc("SQUARED_DIFFERENCE", "tf.math.squared_difference",
          (Kernel("te_squared_difference_s8"),
           Kernel("te_squared_difference_table_s8", "512 outputs or more, any output multiplier"),
           Kernel("te_squared_difference_s16", _INT16)),
          f"{_BROADCAST}; each input's rescale factor inside (0, 1); int16: zero point 0 everywhere, as "
          "TFLite-Micro requires"),
    OpDoc("SQUEEZE", "keras.ops.squeeze, tf.squeeze; Conv1D reshapes",
          (Kernel("te_reshape_s8"),),
          "input and output with as many elements"),
    OpDoc("STRIDED_SLICE", "slicing a tensor, `x[:, 1:5:2]`; keras.ops.slice (or SLICE); GRU steps",
          (Kernel("te_strided_slice_s8"),),
          "1-D to 4-D; constant begin, end and strides, no stride 0; ellipsis and new-axis masks ignored, as "
          "TFLite-Micro ignores them"),
    OpDoc("SUB", "Subtract, keras.ops.subtract, `a - b`; GRU steps",
          (Kernel("te_sub_s8"),
           Kernel("te_sub_table_s8", "512 outputs or more, any output multiplier"),
           Kernel("te_sub_s16", _INT16)),
          f"{_BROADCAST}; each input's rescale factor inside (0, 1); {_FUSED}"),
    OpDoc("SUM", "keras.ops.sum, tf.reduce_sum",
          (Kernel("te_mean_s8"), Kernel("te_mean_s16", _INT16)),
          "constant int32 axes, any number of them; inputs up to 5-D; per-tensor quantization"),
    OpDoc("SVDF", "no Keras layer: TensorFlow's converter fuses SVDF only from the patterns of old TF1 graphs "
                  "(keyword-spotting models written for TFLite-Micro)",
          (Kernel("te_svdf_s8"), Kernel("te_svdf_packed_s8", "state zero point 0, as converters write it"),
           Kernel("te_svdf_int8_state_s8", "int8 state and time weights (TFLite-Micro's other integer form)")),
          "int16 or int8 state and time weights (both of one type); a constant bias "
          "whose scale is state scale x time-weights scale (TFLite-Micro requires it); 2-D input, weights and "
          "output; the state a variable tensor"),
    OpDoc("TANH", "Activation(\"tanh\"), `activation=\"tanh\"`; LSTM, GRU and SimpleRNN steps",
          (Kernel("te_tanh_s8"), Kernel("te_lookup_s8", "always (a 256-byte table of te_tanh_s8's bytes)"),
           Kernel("te_tanh_s16", _INT16)),
          "an input scale large enough for the Q4.27 input; the output is in units of 1/128, zero point "
          "0, as TFLite-Micro writes it; int16: zero point 0 on input and output and output scale 2^-15, as "
          "TFLite-Micro requires"),
    OpDoc("TRANSPOSE", "Permute, keras.ops.transpose",
          (Kernel("te_transpose_s8"),
           Kernel("te_transpose_s16", "int16, 5-D, no axis of size 1 and the last axis moved (other int16 "
                                      "transposes move bytes through te_transpose_s8)")),
          "1-D to 5-D; a constant permutation that names each axis once"),
    OpDoc("TRANSPOSE_CONV", "Conv2DTranspose",
          (Kernel("te_transpose_conv_s8"),
           Kernel("te_transpose_conv_im2col_s8", f"constant filter, {_IN_RANGE}"),
           Kernel("te_transpose_conv_s16", "int16 activations (16x8 mode)"),
           Kernel("te_transpose_conv_im2col_s16", "int16 activations")),
          f"4-D; SAME or VALID padding; constant int32 bias; one filter scale or one per output channel; "
          f"{_FUSED}; 16x8: constant int8 filter, an int64 or int16 bias; the output shape input may be a model "
          "input (TFLite-Micro reads the output tensor's shape)"),
    OpDoc("UNIDIRECTIONAL_SEQUENCE_LSTM", "LSTM as TensorFlow's converter fuses it (the int8 files of "
                                          "TFLite-Micro's examples, such as mnist_lstm)",
          (Kernel("te_unidirectional_sequence_lstm_s8"), Kernel("te_unidirectional_sequence_lstm_s16", _INT16)),
          "TFLite-Micro's 8x8->16 integer LSTM: int8 input, weights, hidden state and output, int16 cell state "
          "with a power-of-two scale, int32 biases; per-tensor symmetric weights; tanh cell gate; both states "
          "variable tensors no other layer uses; no peephole, projection, layer normalization or CIFG (as "
          "TFLite-Micro); time-major or batch-major input; 16x8: int16 input, hidden state and output, int64 "
          "biases"),
    OpDoc("UNPACK", "keras.ops.unstack, tf.unstack; the time steps in front of an unrolled recurrent layer",
          (Kernel("te_split_s8"),),
          f"num equal to the axis size; {_COPY}"),
    OpDoc("ZEROS_LIKE", "tf.zeros_like, keras.ops.zeros_like where the converter does not fold them into a "
                        "constant",
          (Kernel("te_zeros_like_s8"),),
          "every byte 0, the integer rather than the zero point, as TFLite-Micro writes it"),
)
